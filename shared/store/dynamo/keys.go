package dynamo

// Single-table layout. Every key starts with the tenant, so no query can
// cross tenants.
//
//	item            PK                        SK               GSI1PK              GSI1SK
//	tenant          T#<tenant>                TENANT
//	client          T#<tenant>#CLIENT#<id>    CLIENT           T#<tenant>#CLIENTS  <id>
//	client secret   T#<tenant>#CLIENT#<id>    SECRET#<id>
//
// A client and its secrets share a partition, so the token endpoint reads
// both with one strongly consistent Query.
const (
	attrPK     = "PK"
	attrSK     = "SK"
	attrGSI1PK = "GSI1PK"
	attrGSI1SK = "GSI1SK"

	// GSI1 lists a tenant's clients.
	indexGSI1 = "GSI1"

	skTenant       = "TENANT"
	skClient       = "CLIENT"
	skSecretPrefix = "SECRET#"
)

func tenantPK(tenant string) string           { return "T#" + tenant }
func clientPK(tenant, clientID string) string { return "T#" + tenant + "#CLIENT#" + clientID }
func clientsGSI1PK(tenant string) string      { return "T#" + tenant + "#CLIENTS" }
func secretSK(secretID string) string         { return skSecretPrefix + secretID }
