# Turns `go test -bench` output into a table. A benchmark reports its figure
# with b.ReportMetric under any unit, and the floor measured in the same run
# under a unit starting "floor-"; the ratio is figure / floor.
BEGIN { printf "%-52s %16s %16s %8s\n", "figure", "value", "floor", "ratio"; }
/^Benchmark/ {
  name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
  delete val; n = 0
  for (i = 3; i < NF; i += 2) { unit = $(i+1); val[unit] = $i; units[++n] = unit }
  for (k = 1; k <= n; k++) {
    u = units[k]
    if (u ~ /^floor-/ || u == "ns/op" || u == "B/op" || u == "allocs/op") continue
    f = "floor-" u
    if (f in val && val[f] > 0) {
      printf "%-52s %16s %16s %8.2f\n", name " (" u ")", val[u], val[f], val[u] / val[f]
    } else {
      printf "%-52s %16s %16s %8s\n", name " (" u ")", val[u], "-", "-"
    }
  }
}
/^(FAIL|panic:)/ { print; failed = 1 }
END { exit failed }
