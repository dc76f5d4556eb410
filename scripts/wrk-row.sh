# wrk_row NAME CONNECTIONS LUA URL PID: one wrk run of DURATION, printed as
# a Markdown row: requests/s, p50, p99 and the CPU milliseconds per request
# of process PID alone (utime + stime from /proc/PID/stat). Sourced by the
# bench scripts.
wrk_row() {
  local name=$1 c=$2 lua=$3 url=$4 pid=$5 threads before after out requests errors rps p50 p99 cpu
  threads=$(( c < 2 ? 1 : 2 ))
  before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  out=$(wrk -t$threads -c"$c" -d"$DURATION" --latency -s "$lua" "$url")
  after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  errors=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  cpu=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN {printf "%.3f ms", t * 1000 / hz / n}')
  echo "| $name | $c | $rps | $p50 | $p99 | $cpu |${errors:+ non-2xx: $errors}"
}
