#!/usr/bin/env bash
# Builds the .deb and .rpm, lints them, installs the deb on this machine, runs the packaged agent
# as the service user with exactly the unit's capabilities, upgrades, removes and purges it, and
# checks the rpm's contents in a scratch root. Runs as root; leaves the machine as it found it
# (package purged, and the ipctrail user removed if this script created it).
# Usage: packaging/test-packages.sh [BUILD_DIR]   (default: build-packages)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-packages}
unit_name=ipctrail.service
# Warnings left on purpose; packaging/README.md gives the reason for each.
expected_lintian_warnings=(initial-upload-closes-no-bugs)
expected_rpmlint_warnings=(no-url-tag no-manual-page-for-binary invalid-license
  non-standard-uid non-standard-gid)

passed=0
failed=0
pass() {
  echo "  ok: $*"
  passed=$((passed + 1))
}
fail() {
  echo "  FAILED: $*"
  failed=$((failed + 1))
}
# check DESCRIPTION COMMAND...: one test step; a failure is counted and the script goes on.
check() {
  local description=$1
  shift
  local output
  if output=$("$@" 2>&1); then
    pass "$description"
  else
    fail "$description"
    printf '%s\n' "$output" | sed 's/^/    | /' | tail -n 30
  fi
}
# check_equal DESCRIPTION ACTUAL EXPECTED
check_equal() {
  if [[ $2 == "$3" ]]; then
    pass "$1"
  else
    fail "$1"
    echo "    | expected '$3', got '$2'"
  fi
}
step() { echo "== $*"; }

if [[ $(id -u) -ne 0 ]]; then
  echo "error: $0 installs a package and must run as root" >&2
  exit 2
fi
if dpkg-query -W -f='${db:Status-Status}' ipctrail 2>/dev/null | grep -qv '^not-installed$'; then
  echo "error: the ipctrail package is installed here; this test would purge it" >&2
  exit 2
fi
for leftover in /etc/ipctrail /var/lib/ipctrail; do
  if [[ -e $leftover ]]; then
    echo "error: $leftover exists; this test would delete it" >&2
    exit 2
  fi
done

work=$(mktemp -d)
user_existed=no
getent passwd ipctrail >/dev/null && user_existed=yes
group_existed=no
getent group ipctrail >/dev/null && group_existed=yes
agent_pid=""
cleanup() {
  if [[ -n $agent_pid ]]; then
    kill -KILL "$agent_pid" 2>/dev/null || true
  fi
  if dpkg-query -W -f='${db:Status-Status}' ipctrail 2>/dev/null | grep -qv '^not-installed$'; then
    dpkg -P ipctrail >/dev/null 2>&1 || true
  fi
  if [[ $user_existed == no ]] && getent passwd ipctrail >/dev/null; then
    userdel ipctrail || true
  fi
  if [[ $group_existed == no ]] && getent group ipctrail >/dev/null; then
    groupdel ipctrail || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step "build the packages (Release, with Debian's hardening flags) in $build"
rm -rf "$build"
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CFLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS)" \
  CXXFLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)" \
  LDFLAGS=$(dpkg-buildflags --get LDFLAGS) \
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DIPCTRAIL_TESTS=OFF \
  -DIPCTRAIL_BENCH=OFF >"$work/configure.log"
cmake --build "$build" -j "$(nproc)" >"$work/build.log"
cmake --build "$build" --target package >"$work/cpack.log"
deb=$(ls "$build"/ipctrail_*.deb)
rpm=$(ls "$build"/ipctrail-*.rpm)
echo "  built $(basename "$deb") and $(basename "$rpm")"
config_shipped=no
grep -q "config/ipctrail.yaml not found" "$work/configure.log" || config_shipped=yes
echo "  config/ipctrail.yaml shipped: $config_shipped"

# only_expected_warnings FILE NAME...: every warning line of a linter's report names one of NAMES.
only_expected_warnings() {
  local report=$1
  shift
  local names unexpected
  names=$(IFS='|' && echo "$*")
  unexpected=$(grep ' W: ' "$report" | grep -vE ": W: ($names)( |\$)" || true)
  if [[ -n $unexpected ]]; then
    echo "unexpected warnings (fix them or list them in packaging/README.md):"
    echo "$unexpected"
    return 1
  fi
}

step "lintian and rpmlint"
lintian --fail-on error "$deb" >"$work/lintian.txt" 2>&1 && lintian_status=0 || lintian_status=$?
check "lintian reports no errors" test "$lintian_status" -eq 0
check "lintian warnings are the listed ones" only_expected_warnings "$work/lintian.txt" \
  "${expected_lintian_warnings[@]}"
sed 's/^/    /' "$work/lintian.txt"
rpmlint -c "$root/packaging/rpm/rpmlint.toml" "$rpm" >"$work/rpmlint.txt" 2>/dev/null || true
check "rpmlint reports no errors" grep -q ' 0 errors' "$work/rpmlint.txt"
check "rpmlint warnings are the listed ones" only_expected_warnings "$work/rpmlint.txt" \
  "${expected_rpmlint_warnings[@]}"
grep -E ' [WE]: ' "$work/rpmlint.txt" | sed 's/^/    /' || true

step "rpm: metadata, scripts, and contents unpacked with rpm --root"
rpm_files=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm")
printf '    %s\n' "${rpm_files//$'\n'/$'\n'    }"
rpm_has() { grep -qE "$1" <<<"$rpm_files"; }
check "rpm: /usr/bin/ipctrail 0755 root" rpm_has '^-rwxr-xr-x root:root +/usr/bin/ipctrail$'
check "rpm: unit 0644 in /usr/lib/systemd/system" \
  rpm_has '^-rw-r--r-- root:root +/usr/lib/systemd/system/ipctrail.service$'
check "rpm: man page" rpm_has '^-rw-r--r-- root:root d? ?/usr/share/man/man1/ipctrail.1.gz$'
check "rpm: LICENSE is a %license file" rpm_has '^-rw-r--r-- root:root d?l /usr/share/doc/ipctrail/LICENSE$'
check "rpm: README is a %doc file" rpm_has '^-rw-r--r-- root:root d /usr/share/doc/ipctrail/README.md$'
check "rpm: Prometheus rules 0644" \
  rpm_has '^-rw-r--r-- root:root +/usr/share/ipctrail/prometheus/ipctrail-rules.yml$'
check "rpm: /var/lib/ipctrail 0750 ipctrail" rpm_has '^drwxr-x--- ipctrail:ipctrail +/var/lib/ipctrail$'
check "rpm: nothing outside /usr, /etc/ipctrail, /var/lib/ipctrail" \
  bash -c "! rpm -qlp '$rpm' | grep -vE '^(/usr/|/etc/ipctrail|/var/lib/ipctrail$)'"
if [[ $config_shipped == yes ]]; then
  check "rpm: config 0644 %config(noreplace)" \
    rpm_has '^-rw-r--r-- root:root cn /etc/ipctrail/ipctrail.yaml$'
fi
rpm_info=$(rpm -qip "$rpm")
check "rpm: license, summary and packager set" \
  bash -c "grep -q '^License *: MIT' <<<'$rpm_info' && grep -q '^Packager *: .*@' <<<'$rpm_info' && grep -q '^Summary *: System V IPC' <<<'$rpm_info'"
check "rpm: requirements computed from the binary" bash -c "rpm -qp --requires '$rpm' | grep -q 'libstdc++.so.6'"
check "rpm: Requires libmicrohttpd's soname (loaded with dlopen)" bash -c "rpm -qp --requires '$rpm' | grep -q '^libmicrohttpd.so.12'"
rpm_scripts=$(rpm -qp --scripts "$rpm")
check "rpm: %pre creates the ipctrail user and group" \
  bash -c "grep -q 'useradd -r -g ipctrail -d /var/lib/ipctrail' <<<'$rpm_scripts' && grep -q 'groupadd -r ipctrail' <<<'$rpm_scripts'"
check "rpm: %post enables and starts on first install" grep -q 'systemctl enable --now ipctrail.service' <<<"$rpm_scripts"
check "rpm: %preun stops on erase" grep -q 'systemctl disable --now ipctrail.service' <<<"$rpm_scripts"
check "rpm: %postun restarts on upgrade" grep -q 'systemctl try-restart ipctrail.service' <<<"$rpm_scripts"
rpm_root=$work/rpm-root
mkdir -p "$rpm_root"
rpm --root "$rpm_root" --initdb
rpm --root "$rpm_root" -i --nodeps --noscripts "$rpm" >"$work/rpm-install.log" 2>&1 ||
  fail "rpm -i --root: $(cat "$work/rpm-install.log")"
check_equal "rpm --root: binary unpacked 0755" "$(stat -c %a "$rpm_root/usr/bin/ipctrail" 2>&1)" 755
check_equal "rpm --root: unit unpacked 0644" \
  "$(stat -c %a "$rpm_root/usr/lib/systemd/system/ipctrail.service" 2>&1)" 644
check_equal "rpm --root: state folder unpacked 0750" "$(stat -c %a "$rpm_root/var/lib/ipctrail" 2>&1)" 750
check "rpm --root: the unpacked binary runs" "$rpm_root/usr/bin/ipctrail" --version
if [[ $config_shipped == yes ]]; then
  check_equal "rpm --root: config unpacked 0644" \
    "$(stat -c %a "$rpm_root/etc/ipctrail/ipctrail.yaml" 2>&1)" 644
fi

step "deb: metadata"
check "deb: Depends computed by dpkg-shlibdeps" bash -c "dpkg-deb -f '$deb' Depends | grep -q 'libstdc++6'"
check "deb: Depends on adduser" bash -c "dpkg-deb -f '$deb' Depends | grep -q 'adduser'"
check "deb: Depends on libmicrohttpd12 (loaded with dlopen)" bash -c "dpkg-deb -f '$deb' Depends | grep -q 'libmicrohttpd12'"
check "deb: maintainer set" bash -c "dpkg-deb -f '$deb' Maintainer | grep -q '@'"
if [[ $config_shipped == yes ]]; then
  check "deb: the config is a conffile" \
    bash -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xOf - ./conffiles | grep -qx /etc/ipctrail/ipctrail.yaml"
fi

# Everything named ipctrail on the machine, to show that purging leaves nothing behind.
ipctrail_paths() {
  find /etc /usr /var/lib /run -xdev \( -path /var/lib/dpkg -o -path /var/lib/apt \) -prune -o \
    -iname '*ipctrail*' -print 2>/dev/null | grep -v "^$build" | grep -v "^$root" | sort || true
}
ipctrail_paths >"$work/paths-before"
[[ -L /lib ]] || find /lib -xdev -iname '*ipctrail*' >>"$work/paths-before" 2>/dev/null || true

step "deb: install with dpkg -i"
check "dpkg -i" dpkg -i "$deb"
check "ipctrail --version" bash -c "/usr/bin/ipctrail --version | grep -qx 'ipctrail [0-9.]*'"
check "user ipctrail: system account, no login shell, home /var/lib/ipctrail" \
  bash -c "getent passwd ipctrail | awk -F: '\$3 < 1000 && \$6 == \"/var/lib/ipctrail\" && \$7 ~ /nologin\$/ {ok=1} END {exit !ok}'"
check "group ipctrail exists" getent group ipctrail
check_equal "/var/lib/ipctrail is 0750 ipctrail:ipctrail" "$(stat -c '%a %U:%G' /var/lib/ipctrail 2>&1)" \
  "750 ipctrail:ipctrail"
check "unit installed in /lib/systemd/system" test -f /lib/systemd/system/$unit_name
check "man page installed" test -f /usr/share/man/man1/ipctrail.1.gz
check "README and copyright in /usr/share/doc/ipctrail" \
  test -f /usr/share/doc/ipctrail/README.md -a -f /usr/share/doc/ipctrail/copyright
rules=/usr/share/ipctrail/prometheus/ipctrail-rules.yml
check_equal "Prometheus rules installed 0644" "$(stat -c %a "$rules" 2>&1)" 644
check "promtool check rules accepts the installed rules" promtool check rules "$rules"
check "systemd-analyze verify accepts the unit" systemd-analyze verify /lib/systemd/system/$unit_name
namespaces_dropin=/usr/share/ipctrail/ipctrail-namespaces.conf
check "the every-namespace drop-in is shipped in /usr/share/ipctrail" test -f $namespaces_dropin
check "the every-namespace drop-in is not enabled" \
  test ! -e /etc/systemd/system/$unit_name.d -a ! -e /lib/systemd/system/$unit_name.d
only_known_dropin_lines() {
  ! grep -vE '^(#.*|\[Service\]|AmbientCapabilities=.*|CapabilityBoundingSet=.*|RestrictNamespaces=ipc|LimitNOFILE=[0-9]+|)$' \
    $namespaces_dropin
}
check "the every-namespace drop-in holds only its [Service] capability, namespace and descriptor lines" \
  only_known_dropin_lines
check "the unit is enabled (multi-user.target.wants)" \
  test -L /etc/systemd/system/multi-user.target.wants/$unit_name
check "config /etc/ipctrail/ipctrail.yaml installed" test -f /etc/ipctrail/ipctrail.yaml
check "ipctrail check-config /etc/ipctrail/ipctrail.yaml" \
  /usr/bin/ipctrail check-config /etc/ipctrail/ipctrail.yaml

# The unit's own capability lines become setpriv's arguments, so this runs with exactly those.
# unit_caps KEY [FILE]: from the unit, or from FILE (a drop-in).
unit_caps() {
  sed -n "s/^$1=//p" "${2:-/lib/systemd/system/$unit_name}" | tr ' ' '\n' |
    sed -n 's/^CAP_\(.*\)/+\L\1/p' | paste -sd,
}
ambient=$(unit_caps AmbientCapabilities)
bounding=$(unit_caps CapabilityBoundingSet)
exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/$unit_name)
echo "  unit capabilities: ambient $ambient, bounding $bounding"
echo "  unit command: $exec_start"
# as_service COMMAND...: runs COMMAND as systemd would run the unit, as far as this machine
# allows without systemd as PID 1: user and group ipctrail, the unit's ambient and bounding
# capabilities, no_new_privs, UMask=0027, and a mount namespace approximating ProtectSystem=strict
# (read-only / except the state folder), ProtectKernelTunables (read-only /sys, tracefs and
# /proc/sys), ProtectHome and PrivateTmp. With SERVICE_IPC=private it gets a private IPC
# namespace, and SERVICE_SETUP runs there as root first. It execs, so the command keeps the
# caller's PID: call it in a subshell.
as_service() {
  local namespaces=(--mount)
  [[ ${SERVICE_IPC:-host} == private ]] && namespaces+=(--ipc)
  # shellcheck disable=SC2016 # expanded by the inner shell
  SERVICE_AMBIENT=$ambient SERVICE_BOUNDING=$bounding \
    exec unshare "${namespaces[@]}" --propagation private -- bash -c '
    set -e
    eval "${SERVICE_SETUP:-}" >&2
    mount --bind /var/lib/ipctrail /var/lib/ipctrail
    mount -o remount,bind,ro /
    mount -o remount,bind,rw /var/lib/ipctrail
    mount -o remount,bind,ro /sys
    if mountpoint -q /sys/kernel/tracing; then mount -o remount,bind,ro /sys/kernel/tracing; fi
    mount --bind /proc/sys /proc/sys
    mount -o remount,bind,ro /proc/sys
    for home in /home /root; do mount -t tmpfs -o ro,mode=0755 tmpfs "$home"; done
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    umask 0027
    exec setpriv --reuid=ipctrail --regid=ipctrail --init-groups --no-new-privs \
      --inh-caps="-all,$SERVICE_AMBIENT" --ambient-caps="-all,$SERVICE_AMBIENT" \
      --bounding-set="-all,$SERVICE_BOUNDING" -- "$@"' as_service "$@"
}

step "the service user reads the IPC namespace it runs in"
# A private IPC namespace with known objects made by root, read by the unprivileged service user.
sample_as_service() {
  (SERVICE_IPC=private SERVICE_SETUP='ipcmk -Q; ipcmk -S 3; ipcmk -M 4096' \
    as_service /usr/bin/ipctrail sample --format json) >"$work/sample.json"
  python3 - "$work/sample.json" <<'EOF'
import json, sys
charts = json.load(open(sys.argv[1]))["charts"]
def value(chart, dimension):
    return charts[chart]["dimensions"][dimension]
assert value("system.ipc_semaphores", "semaphores") == 3, charts
assert value("system.ipc_semaphore_arrays", "arrays") == 1, charts
assert len(charts["system.message_queue_message"]["dimensions"]) == 1, charts
assert value("system.shared_memory_segments", "segments") == 1, charts
assert value("system.shared_memory_bytes", "bytes") == 4096, charts
EOF
}
check "ipctrail sample as user ipctrail with the unit's capabilities sees 1 queue, 3 semaphores, 4096 shm bytes" \
  sample_as_service

step "the service user with the every-namespace drop-in samples a namespace root holds"
# Without the drop-in's capabilities the root-held namespace is missing and one line says so; with
# them it is found and entered.
sample_namespace_as_service() {
  local with_dropin=$1 inode="" status=0
  unshare --ipc bash -c 'ipcmk -S 5 >/dev/null && exec sleep 60' &
  local holder=$!
  for _ in $(seq 100); do
    inode=$(stat -Lc %i /proc/$holder/ns/ipc 2>/dev/null || true)
    [[ -n $inode && $inode != "$(stat -Lc %i /proc/self/ns/ipc)" ]] &&
      [[ $(readlink /proc/$holder/exe) == */sleep ]] && break
    sleep 0.1
  done
  (
    if [[ $with_dropin == yes ]]; then
      ambient="$ambient,$(unit_caps AmbientCapabilities $namespaces_dropin)"
      bounding="$bounding,$(unit_caps CapabilityBoundingSet $namespaces_dropin)"
    fi
    as_service /usr/bin/ipctrail sample --namespace all --format json
  ) >"$work/namespaces.json" 2>"$work/namespaces.err" || status=$?
  kill $holder && wait $holder 2>/dev/null || true
  [[ $status -eq 0 ]] || return 1
  python3 - "$work/namespaces.json" "$inode" "$with_dropin" <<'EOF'
import json, sys
document, inode, with_dropin = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3] == "yes"
found = [n for n in document["namespaces"] if n["inode"] == inode]
if with_dropin:
    assert found and "sample" in found[0], document
    arrays = found[0]["sample"]["charts"]["system.ipc_semaphore_arrays"]["dimensions"]["arrays"]
    assert arrays == 1, found
else:
    assert not found, found
    assert "missing CAP_SYS_PTRACE" in document["incomplete"], document["incomplete"]
EOF
  if [[ $with_dropin == no ]]; then
    [[ $(wc -l <"$work/namespaces.err") -eq 1 ]] && grep -q "missing CAP_SYS_PTRACE" "$work/namespaces.err"
  fi
}
check "without the drop-in: one line names CAP_SYS_PTRACE, the own namespace is sampled" \
  sample_namespace_as_service no
check "with the drop-in's capabilities: the root-held namespace is entered and sampled" \
  sample_namespace_as_service yes

step "the packaged agent, run as the service for a few seconds"
history=/var/lib/ipctrail/history.db
if [[ -d /run/systemd/system ]]; then
  echo "  systemd runs here: postinst started the service"
  check "systemctl is-active $unit_name" systemctl is-active --quiet $unit_name
  sleep 5
  check "the service is still active after 5 s" systemctl is-active --quiet $unit_name
else
  echo "  systemd is not PID 1 here: running ExecStart through setpriv"
  # shellcheck disable=SC2086 # ExecStart is a plain command line without quoting.
  (as_service $exec_start) >"$work/agent.log" 2>&1 &
  agent_pid=$!
  sleep 5
  check "the agent is still running after 5 s" kill -0 "$agent_pid"
fi
sqlite_as_group_member() {
  # nobody with group ipctrail stands for an operator who joined the group.
  setpriv --reuid=nobody --regid=nogroup --groups="$(getent group ipctrail | cut -d: -f3)" -- \
    sqlite3 -readonly "$history" "$@"
}
check "a member of group ipctrail reads the history while the agent runs" \
  bash -c "$(declare -f sqlite_as_group_member); history=$history; test \"\$(sqlite_as_group_member 'SELECT count(*) > 0 FROM history')\" = 1"
if [[ -d /run/systemd/system ]]; then
  check "systemctl stop $unit_name" systemctl stop $unit_name
else
  kill -TERM "$agent_pid" 2>/dev/null || true
  agent_status=0
  wait "$agent_pid" || agent_status=$?
  agent_pid=""
  check "the agent exits 0 on SIGTERM" test "$agent_status" -eq 0
  echo "  agent log:"
  tail -n 20 "$work/agent.log" | sed 's/^/    | /'
fi
check_equal "history.db is 0640 ipctrail:ipctrail" "$(stat -c '%a %U:%G' "$history" 2>&1)" \
  "640 ipctrail:ipctrail"
check "a member of group ipctrail reads the history after the agent stopped" \
  bash -c "$(declare -f sqlite_as_group_member); history=$history; test \"\$(sqlite_as_group_member 'SELECT count(*) > 0 FROM history')\" = 1"
check_equal "sqlite3: integrity_check ok" "$(sqlite3 -readonly "$history" 'PRAGMA integrity_check' 2>&1)" ok
check_equal "sqlite3: the history holds the core charts" \
  "$(sqlite3 -readonly "$history" "SELECT count(DISTINCT chart) FROM history WHERE chart IN ('system.ipc_semaphores', 'system.ipc_semaphore_arrays', 'system.shared_memory_segments', 'system.shared_memory_bytes')" 2>&1)" 4
check_equal "sqlite3: BPF attached (the history holds system.ipc_semaphore_calls)" \
  "$(sqlite3 -readonly "$history" "SELECT count(*) > 0 FROM history WHERE chart = 'system.ipc_semaphore_calls'" 2>&1)" 1

step "deb: upgrade keeps the history and an edited config"
rows_before=$(sqlite3 -readonly "$history" 'SELECT count(*) FROM history' 2>/dev/null || echo missing)
echo "# edited by test-packages.sh" >>/etc/ipctrail/ipctrail.yaml || true
check "dpkg -i again (upgrade path: postinst configure with the old version)" dpkg -i "$deb"
check "the edited config is kept" grep -q '^# edited by test-packages.sh$' /etc/ipctrail/ipctrail.yaml
rows_after=$(sqlite3 -readonly "$history" 'SELECT count(*) FROM history' 2>/dev/null || echo missing)
# With systemd the upgraded service goes on writing, so there may be more rows, never fewer.
check "the history is kept ($rows_before rows before, $rows_after after)" \
  test "$rows_before" != missing -a "$rows_after" != missing -a "$rows_after" -ge "$rows_before"
if [[ -d /run/systemd/system ]]; then
  check "the service runs again after the upgrade" systemctl is-active --quiet $unit_name
fi

step "deb: dpkg -r keeps config and history"
check "dpkg -r ipctrail" dpkg -r ipctrail
check "/usr/bin/ipctrail is gone" test ! -e /usr/bin/ipctrail
check "the unit file is gone" test ! -e /lib/systemd/system/$unit_name
check "the config stays until purge" test -f /etc/ipctrail/ipctrail.yaml
check "the history stays until purge" test -d /var/lib/ipctrail
if [[ -d /run/systemd/system ]]; then
  check "the service is stopped" bash -c "! systemctl is-active --quiet $unit_name"
fi

step "deb: dpkg -P deletes config and history, and nothing else is left"
check "dpkg -P ipctrail" dpkg -P ipctrail
check "/etc/ipctrail is gone" test ! -e /etc/ipctrail
check "/var/lib/ipctrail is gone" test ! -e /var/lib/ipctrail
check "dpkg no longer knows ipctrail" \
  bash -c "! dpkg-query -W -f='\${db:Status-Status}' ipctrail 2>/dev/null | grep -qv '^not-installed$'"
ipctrail_paths >"$work/paths-after"
[[ -L /lib ]] || find /lib -xdev -iname '*ipctrail*' >>"$work/paths-after" 2>/dev/null || true
check "no file named ipctrail is left behind" diff "$work/paths-before" "$work/paths-after"
check "user and group ipctrail stay, as Debian policy asks" getent passwd ipctrail

echo
echo "packages: $passed passed, $failed failed"
((failed == 0))
