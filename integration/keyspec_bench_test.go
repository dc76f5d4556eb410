package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/machine-iam/machine-iam/shared/oauth/token"
	kmssigner "github.com/machine-iam/machine-iam/shared/signing/kms"
)

// BenchmarkKeySpec mints tokens with a KMS key of each spec SigningKeySpec
// allows, against local-kms: the latency of one kms:Sign round trip and the
// size of the token, the figures docs/deploy.md weighs.
func BenchmarkKeySpec(b *testing.B) {
	ctx := context.Background()
	for _, spec := range []kmstypes.KeySpec{kmstypes.KeySpecRsa2048, kmstypes.KeySpecEccNistP256} {
		b.Run(string(spec), func(b *testing.B) {
			key, err := env.svc.KMS.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
			if err != nil {
				b.Fatal(err)
			}
			m := &token.Minter{Signer: kmssigner.New(env.svc.KMS, *key.KeyMetadata.KeyId), Lifetime: time.Hour, Now: time.Now}
			g := token.Grant{Issuer: "https://id.example.com", Tenant: "default", Subject: "client-0afd4f1a-23d1-4e53-8f29-6ffa82b79e84",
				ClientID: "0afd4f1a-23d1-4e53-8f29-6ffa82b79e84", Scopes: []string{"api"}}
			raw, _, err := m.Mint(ctx, g)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, _, err := m.Mint(ctx, g); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(raw)), "token-bytes")
			b.ReportMetric(float64(len(raw)-strings.LastIndex(raw, ".")-1), "signature-bytes")
		})
	}
}
