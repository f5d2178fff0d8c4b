#!/bin/bash
# Pull mode (issue 15): `start --snapshot --export nbd://127.0.0.1:PORT/pit`
# serves the point-in-time view read-only through qemu-nbd. A "backup
# server" (here: qemu-img on the loopback) reads it with stock tools while
# the LV is written to, and gets exactly the point in time, byte for byte
# (a raw LV: a mounted filesystem's superblock changes when the start
# freezes it, so no copy taken before the start would match; nbd-push
# backs up a mounted one). finish stops the server. Bad URIs and a port
# already taken give one clear line and leave nothing set up.
# disks: 2
# disk-size: 128M
# timeout: 420
. "$(dirname "$0")/../lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
X=/tmp/cb-pullx
PORT=10809 URI=nbd://127.0.0.1:10809/pit
trap 'kill -CONT -- -$WRITER_PID 2>/dev/null; kill -- -$WRITER_PID 2>/dev/null;
	"$CTL" finish --force vg0-data >/dev/null 2>&1;
	"$CTL" recover >/dev/null 2>&1; pkill -x qemu-nbd; cleanup_dm' EXIT

ip link set lo up || bail "no loopback"
pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null &&
	lvcreate -q -y -L 48M -n data vg0 "${D[0]}" >/dev/null &&
	lvcreate -q -y -L 48M -n bak vg0 "${D[1]}" >/dev/null &&
	lvcreate -q -y -L 8M -n data2 vg0 "${D[0]}" >/dev/null &&
	lvcreate -q -y -L 8M -n bak2 vg0 "${D[1]}" >/dev/null || bail "cannot create LVs"
mkdir -p $X
dd if=/dev/urandom of=/dev/vg0/data bs=1M count=48 oflag=direct status=none ||
	bail "cannot fill vg0/data"
# A writer of random 64 KiB pieces while the backup server reads (lib.sh).
start_writer /dev/vg0/data
sleep 1

# Refusals before anything is set up: one line each, exit 2.
out=$("$CTL" start vg0/data vg0/bak --sync none --export $URI 2>&1)
check_eq "--export without --snapshot: exit 2" 2 "$?"
diag "$out"
for bad in nbd://127.0.0.1 "nbd://127.0.0.1:99999/x" "http://h/x" \
	"nbd+unix:///x" "nbd://ho st/x"; do
	out=$("$CTL" start vg0/data vg0/bak --snapshot --export "$bad" 2>&1)
	rc=$?
	check_eq "--export '$bad': exit 2" 2 "$rc"
	check_eq "--export '$bad': one line naming it" 1 \
		"$(grep -c -- "--export $bad" <<<"$out")"
done
check_fail "no job was left behind" "$CTL" status vg0-data

# The point in time: the writer held still, the LV copied, the job
# started, the writer let go.
kill -STOP -- -"$WRITER_PID"
dd if=/dev/vg0/data of=$X/pit.raw bs=1M iflag=direct status=none || bail "cannot copy the PIT"
check "start a sync=none job with its view exported at $URI" \
	"$CTL" start vg0/data vg0/bak --sync none --snapshot --export $URI
kill -CONT -- -"$WRITER_PID"

check "status --json names the export" \
	bash -c "'$CTL' status --json vg0-data | grep -q '\"export\": \"$URI\"'"
check "status shows the export" \
	bash -c "'$CTL' status vg0-data | grep -q '^Export: *$URI'"
check_eq "qemu-img info: the export is the LV's size" "$((48 << 20))" \
	"$(qemu-img info --output=json "$URI" | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p')"
sleep 2
check "the source changes meanwhile" bash -c "! cmp -s $X/pit.raw /dev/vg0/data"
check "qemu-img convert from the export to qcow2 while the LV is written" \
	qemu-img convert -f raw -O qcow2 "$URI" $X/pulled.qcow2
check "qemu-img compare: the pulled image is the point in time" \
	qemu-img compare -q -f raw -F qcow2 $X/pit.raw $X/pulled.qcow2
check "a second reader at the same time" \
	bash -c "qemu-img convert -f raw -O raw '$URI' $X/pulled2.raw & qemu-img convert -f raw -O raw '$URI' $X/pulled3.raw; wait \$!"
check "... reads the point in time too" cmp $X/pit.raw $X/pulled3.raw
check "... and so does the first" cmp $X/pit.raw $X/pulled2.raw
check "the export is read-only" \
	bash -c "! qemu-io -f raw -c 'write 0 4k' '$URI' >/dev/null 2>&1"

# A port that is taken: the second job is undone, nothing is left.
out=$("$CTL" start vg0/data2 vg0/bak2 --snapshot --export nbd://127.0.0.1:$PORT/other 2>&1)
rc=$?
diag "$out"
check_eq "an export on a taken port: exit 1" 1 "$rc"
check "... says qemu-nbd failed and why" grep -q "qemu-nbd failed" <<<"$out"
check "... and that the job was undone" grep -q "cancelled and finished" <<<"$out"
check_fail "... no job on vg0/data2" "$CTL" status vg0-data2
check_eq "... no device of it left" "" "$(dmsetup ls | grep -E 'data2' | grep -v '^vg0-data2\b')"

kill -- -"$WRITER_PID" 2>/dev/null
wait "$WRITER_PID" 2>/dev/null
check "cancel" "$CTL" cancel vg0-data
check "finish stops the export" "$CTL" finish vg0-data
check_fail "nothing answers at $URI any more" qemu-img info "$URI"
check_fail "no qemu-nbd runs" pgrep -x qemu-nbd
check_eq "no export files left" "" "$(ls /run/cowbackup/export 2>/dev/null)"
out=$("$CTL" recover 2>&1)
check_eq "recover finds nothing" "recover: nothing to do" "$out"

# --export-tls: x509 credentials made here (a CA, a server certificate for
# 127.0.0.1, a client certificate: qemu-nbd verifies its clients).
pki() {
	local d=$X/pki
	mkdir -p $d/srv $d/cli &&
		openssl req -x509 -newkey rsa:2048 -nodes -keyout $d/ca-key.pem \
			-out $d/srv/ca-cert.pem -days 2 -subj /CN=cb-test-ca &&
		cp $d/srv/ca-cert.pem $d/cli/ca-cert.pem &&
		openssl req -newkey rsa:2048 -nodes -keyout $d/srv/server-key.pem \
			-out $d/srv.csr -subj /CN=127.0.0.1 &&
		openssl x509 -req -in $d/srv.csr -CA $d/srv/ca-cert.pem \
			-CAkey $d/ca-key.pem -CAcreateserial -days 2 \
			-out $d/srv/server-cert.pem \
			-extfile <(printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') &&
		openssl req -newkey rsa:2048 -nodes -keyout $d/cli/client-key.pem \
			-out $d/cli.csr -subj /CN=cb-test-client &&
		openssl x509 -req -in $d/cli.csr -CA $d/srv/ca-cert.pem \
			-CAkey $d/ca-key.pem -CAcreateserial -days 2 \
			-out $d/cli/client-cert.pem \
			-extfile <(printf 'extendedKeyUsage=clientAuth\n')
}
pki >/dev/null 2>&1 || bail "cannot make the TLS credentials"
TURI=nbd://127.0.0.1:10812/tls
check "start with --export $TURI --export-tls" \
	"$CTL" start vg0/data vg0/bak --force --sync none --snapshot \
	--export $TURI --export-tls $X/pki/srv
check_fail "a client without TLS is refused" qemu-img info "$TURI"
check_eq "a TLS client reads it" "$((48 << 20))" \
	"$(qemu-img info --output=json \
		--object tls-creds-x509,id=tls0,dir=$X/pki/cli,endpoint=client \
		--image-opts driver=nbd,host=127.0.0.1,port=10812,export=tls,tls-creds=tls0 |
		sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p')"
check "cancel" "$CTL" cancel vg0-data
check "finish" "$CTL" finish vg0-data
done_testing
