#!/usr/bin/env bash
# MPI across a network: two "hosts" that are two network namespaces of this machine, joined
# by a veth pair (a virtual Ethernet cable) with private addresses that exist only inside
# them. MPICH's launcher (hydra) starts one rank in each namespace through a launcher script
# that wraps `ip netns exec` (what ssh would do between two machines); the ranks then talk
# over TCP on that cable. Two ranks of train-gpt must give one process's losses, and the
# cable's byte counters (`ip -s link`) must show at least the gradients' bytes crossing it.
#
# Needs root (ip netns), mpi4py and MPICH (the [mpi] extra). Everything it creates (the
# namespaces, with the veth pair and addresses inside them, and a scratch folder) is
# removed on exit, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python)}
MPIEXEC=$(dirname "$PY")/mpiexec.hydra
[ -x "$MPIEXEC" ] || MPIEXEC=$(command -v mpiexec.hydra || command -v mpiexec)

NS_A="tgedu-a-$$"
NS_B="tgedu-b-$$"
ADDR_A=10.231.7.1
ADDR_B=10.231.7.2
DEV=tg0  # the cable's end has this name in each namespace
ITERS=12
WORK=$(mktemp -d /tmp/tgedu-mpi2.XXXXXX)

cleanup() {
  local rc=$?
  for ns in "$NS_A" "$NS_B"; do
    if ip netns list | grep -qw "$ns"; then
      # only processes inside our own namespaces: the ranks of this script
      for pid in $(ip netns pids "$ns"); do kill "$pid" 2>/dev/null || true; done
      ip netns del "$ns"  # takes its end of the veth pair (and so the pair) with it
    fi
  done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "--- two hosts: namespaces $NS_A ($ADDR_A) and $NS_B ($ADDR_B), one veth cable"
ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add "va$$" type veth peer name "vb$$"
ip link set "va$$" netns "$NS_A"
ip link set "vb$$" netns "$NS_B"
ip -n "$NS_A" link set "va$$" name "$DEV"
ip -n "$NS_B" link set "vb$$" name "$DEV"
ip -n "$NS_A" addr add "$ADDR_A/24" dev "$DEV"
ip -n "$NS_B" addr add "$ADDR_B/24" dev "$DEV"
for ns in "$NS_A" "$NS_B"; do
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "$DEV" up
done

# hydra's ssh launcher calls: LAUNCHER [options] HOST COMMAND...; ours enters HOST's namespace
cat >"$WORK/netns_launcher.sh" <<EOF
#!/usr/bin/env bash
while [ "\${1#-}" != "\$1" ]; do shift; done  # ssh options hydra adds (-x)
host=\$1; shift
case "\$host" in
  $ADDR_A) ns=$NS_A ;;
  $ADDR_B) ns=$NS_B ;;
  *) echo "netns_launcher: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" sh -c "\$*"
EOF
chmod +x "$WORK/netns_launcher.sh"

TINY=(--n-layer 1 --n-head 2 --n-embd 32 --block-size 16 --batch-size 4 --eval-interval 4
      --eval-iters 2 --dropout 0 --warmup-iters 2 --learning-rate 1e-2 --seed 7 --no-progress
      --max-iters "$ITERS")
export OMP_NUM_THREADS=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

echo "--- one process"
(cd "$WORK" && "$PY" -m tinygrad_edu train-gpt "${TINY[@]}" --out one >/dev/null)

counters() {  # tx_bytes of host B's end of the cable
  ip netns exec "$NS_B" cat "/sys/class/net/$DEV/statistics/tx_bytes"
}
before=$(counters)
echo "--- two ranks, one per host, TCP between them (MPICH over libfabric's tcp provider)"
# MPIR_CVAR_NOLOCAL: no shared memory even though the hosts share a kernel;
# the tcp provider on tg0 only; hydra's control port on tg0 too (-iface).
mkdir -p "$WORK/two"
(cd "$WORK/two" && timeout 600 ip netns exec "$NS_A" "$MPIEXEC" \
  -launcher ssh -launcher-exec "$WORK/netns_launcher.sh" -iface "$DEV" \
  -hosts "$ADDR_A,$ADDR_B" -n 2 -ppn 1 \
  -genv MPIR_CVAR_CH4_NETMOD ofi -genv FI_PROVIDER tcp -genv FI_TCP_IFACE "$DEV" \
  -genv MPIR_CVAR_NOLOCAL 1 -genv MPIR_CVAR_DEBUG_SUMMARY 1 \
  -genv OMP_NUM_THREADS 1 -genv PYTHONPATH "$PYTHONPATH" \
  "$PY" -m tinygrad_edu train-gpt "${TINY[@]}" --out run) >"$WORK/two.log" 2>&1 || {
  echo "two ranks failed:"; tail -40 "$WORK/two.log"; exit 1; }
after=$(counters)
grep -i -m 3 -E "provider|netmod" "$WORK/two.log" || true
ip -n "$NS_B" -s link show "$DEV"

echo "--- compare"
"$PY" - "$WORK/one" "$WORK/two/run" <<'EOF'
import json
import sys

import numpy as np

one, two = sys.argv[1:3]
a, b = ([json.loads(ln) for ln in open(f"{d}/metrics.jsonl") if ln.strip()] for d in (one, two))
assert [r["iter"] for r in a] == [r["iter"] for r in b], "the runs logged different iterations"
x = np.array([r["step_loss"] for r in a[1:]], dtype=np.float64)
y = np.array([r["step_loss"] for r in b[1:]], dtype=np.float64)
worst = float(np.max(np.abs(x - y) / np.maximum(np.abs(x), 1e-12)))
print(f"step losses, one process: {np.round(x, 4).tolist()}")
print(f"step losses, two hosts:   {np.round(y, 4).tolist()}")
print(f"largest relative difference: {worst:.2e}")
assert worst < 1e-4, "two hosts did not reproduce one process's losses"
assert x[-1] < x[0] - 0.3, "the model did not learn: the comparison would mean little"
EOF
"$PY" - "$WORK/two/run" "$before" "$after" "$ITERS" <<'EOF'
import glob
import sys

from safetensors.numpy import load_file

run, before, after, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
weights = sorted(glob.glob(f"{run}/**/model.safetensors", recursive=True))[-1]
n = sum(v.size for v in load_file(weights).values())
sent = after - before
need = iters * n * 4  # each iteration, rank 1 sends at least its whole float32 gradient
print(f"host B sent {sent:,} bytes over the cable; {iters} all-reduces of {n:,} float32 "
      f"gradients need at least {need:,}")
assert sent >= need, "too few bytes crossed the cable: the ranks did not talk over TCP"
EOF
echo "mpi_two_hosts: passed"
