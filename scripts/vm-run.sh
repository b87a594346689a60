#!/usr/bin/env bash
# Runs a command from this machine's filesystem inside a small qemu virtual machine that
# boots Debian's own kernel (bookworm's linux-image-amd64), for what this machine's kernel
# lacks, such as kernel TLS (the "tls" TCP ULP, net/tls/tls.ko).
#
#   scripts/vm-run.sh [--setup-only] [--] CMD [ARGS...]
#
# CMD runs as root, chrooted into the host's / (shared read-write over virtio-9p), in the
# same working directory, with PATH, HOME=/root and the caller's CORIO_* and GTEST_*
# variables; stdin is /dev/null. Its stdout and stderr are streamed to this script's
# stdout, and this script exits with CMD's exit status. In the VM, /proc, /sys, /dev,
# /dev/pts, /dev/shm and /tmp are the VM's own (/tmp is an empty tmpfs: a working
# directory under the host's /tmp is not reachable there); lo is up, there is no other
# network device, and tls.ko is loaded. Whatever CMD leaves running is killed when it
# exits.
#
# Accelerator (CORIO_VM_ACCEL): "kvm" where /dev/kvm is usable on a CPU with hardware
# virtualization (vmx/svm); "auto" (the default) falls back to "tcg", qemu's software
# emulation, elsewhere. This project's machines have a /dev/kvm without vmx/svm (PVM,
# kvm_pvm), which cannot boot a stock kernel: there a run uses TCG, ~5 s to boot and
# power off on a busy machine, and programs run several times slower than natively.
#
# Exit status: CMD's; 77 (with a one-line reason on stderr) when it cannot run here:
# CORIO_VM_ACCEL=kvm without a usable KVM, setup that needs root, or a VM that did not
# start init within CORIO_VM_BOOT_TIMEOUT seconds (default 60); 124 when the VM outlived
# CORIO_VM_TIMEOUT seconds (default 600) and was killed; 125 when the harness itself
# failed (setup, or the VM stopped without reporting a status: the console log is shown).
#
# On first use it sets itself up, idempotently, under a lock (concurrent runs are fine):
# it installs qemu-system-x86, busybox-static and xz-utils if missing, downloads (does
# not install) the kernel package that linux-image-amd64 depends on, extracts it and
# builds a small initramfs (busybox, scripts/vm/init, the modules below) in the cache
# directory CORIO_VM_CACHE (default /var/cache/corio-vm). Later runs only boot.
# --setup-only does the setup, also looking again for a newer kernel package (a normal
# run reuses the cached one), and runs CMD only if one is given.
#
# Other settings: CORIO_VM_KEEP=1 keeps the run's directory (command file, console log,
# qemu's stderr) under CACHE/runs; CORIO_VM_DEBUG=1 boots without "quiet", has init say
# where the boot's time goes, and prints the console log to stderr afterwards;
# CORIO_VM_APPEND adds kernel parameters.
#
# scripts/vm/ktls-check.sh is a smoke test of the VM's kTLS with openssl s_server and
# s_client: scripts/vm-run.sh -- scripts/vm/ktls-check.sh
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache="${CORIO_VM_CACHE:-/var/cache/corio-vm}"
vm_timeout="${CORIO_VM_TIMEOUT:-600}"
init_src="$here/vm/init"

# Kernel modules for the initramfs (paths under lib/modules/VERSION/), each with its
# dependencies from modules.dep (made by busybox depmod: the package has none).
# Debian's kernel builds these as modules, not in (its config-*): CONFIG_VIRTIO=m,
# CONFIG_VIRTIO_PCI=m, CONFIG_VIRTIO_CONSOLE=m, CONFIG_NET_9P=m, CONFIG_NET_9P_VIRTIO=m,
# CONFIG_9P_FS=m, CONFIG_NETFS_SUPPORT=m, CONFIG_FSCACHE=m, CONFIG_TLS=m, and the AEAD
# templates that kTLS asks the crypto API for (CONFIG_CRYPTO_GCM=m, _CTR=m, _GHASH=m,
# _CCM=m, _CHACHA20POLY1305=m, _AES_NI_INTEL=m, ...). They are loaded up front; the
# kernel's on-demand loading (request_module -> the initramfs's busybox modprobe) could
# only find these anyway.
modules_9p=(
  kernel/drivers/virtio/virtio_pci.ko   # the PCI transport of virtio-9p-pci (+virtio, virtio_ring)
  kernel/net/9p/9pnet_virtio.ko         # 9P over virtio (+9pnet)
  kernel/fs/9p/9p.ko                    # the 9p filesystem (+netfs, fscache)
)
# Loaded while 9p mounts; init waits for them before the command starts.
modules_run=(
  kernel/drivers/char/virtio_console.ko # virtio-serial: the command's output port
  kernel/net/tls/tls.ko                 # kernel TLS: the "tls" TCP ULP
  kernel/crypto/gcm.ko                  # gcm(aes): AES-128/256-GCM records
  kernel/crypto/ctr.ko                  # ctr(aes), which gcm and ccm are built on
  kernel/crypto/ghash-generic.ko        # ghash for gcm (+gf128mul)
  kernel/arch/x86/crypto/ghash-clmulni-intel.ko  # the same, with PCLMULQDQ
  kernel/arch/x86/crypto/aesni-intel.ko # AES-NI, also its own gcm(aes)
  kernel/crypto/ccm.ko                  # ccm(aes): AES-128-CCM records
  kernel/crypto/chacha20poly1305.ko     # rfc7539(chacha20,poly1305): ChaCha20-Poly1305 records
  kernel/arch/x86/crypto/chacha-x86_64.ko
  kernel/arch/x86/crypto/poly1305-x86_64.ko
)
# Bump when the way the initramfs is built changes (its stamp also covers init and the
# module list).
layout_version=4

say() { echo "vm-run.sh: $*" >&2; }
skip() { say "skipped: $*"; exit 77; }
fail() { say "$*"; exit 125; }

usage() {
  echo "usage: scripts/vm-run.sh [--setup-only] [--] CMD [ARGS...]"
}

setup_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --setup-only) setup_only=1; shift ;;
    --) shift; break ;;
    -h|--help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ] && [ $setup_only = 0 ]; then usage >&2; exit 2; fi

# The accelerator. KVM needs a usable /dev/kvm on a CPU with hardware virtualization
# (vmx/svm): a /dev/kvm without it (e.g. PVM's kvm_pvm, as on this project's machines)
# cannot boot a stock kernel, which hangs or crawls in early boot there. "auto" then uses
# TCG, qemu's software emulation, which boots Debian's kernel in a few seconds here.
kvm_problem() {
  [ -e /dev/kvm ] || { echo "no /dev/kvm on this machine"; return; }
  [ -c /dev/kvm ] || { echo "/dev/kvm is not a character device"; return; }
  [ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "/dev/kvm is not readable and writable by $(id -un)"; return; }
  grep -qw -E 'vmx|svm' /proc/cpuinfo ||
    echo "/dev/kvm without hardware virtualization (no vmx/svm in /proc/cpuinfo$([ -d /sys/module/kvm_pvm ] && echo '; kvm_pvm'))"
}
accel="${CORIO_VM_ACCEL:-auto}"
case "$accel" in
  auto) if [ -z "$(kvm_problem)" ]; then accel=kvm; else accel=tcg; fi ;;
  kvm) problem="$(kvm_problem)"; [ -z "$problem" ] || skip "KVM not usable: $problem" ;;
  tcg) ;;
  *) say "CORIO_VM_ACCEL must be auto, kvm or tcg, not '$accel'"; exit 2 ;;
esac
# Seconds from qemu's start until init has started; past that the VM is killed and the
# run skipped (77): the accelerator cannot boot the kernel in useful time.
boot_timeout="${CORIO_VM_BOOT_TIMEOUT:-60}"

# ---------------------------------------------------------------------------- setup

stamp="$({ echo "layout $layout_version"; printf '%s\n' "${modules_9p[@]}" "${modules_run[@]}"; cat "$init_src"; } |
  sha256sum | cut -d' ' -f1)"

# True when a cached kernel and initramfs match this script and qemu is installed.
ready() {
  local k
  [ -f "$cache/current" ] || return 1
  k="$(cat "$cache/current")"
  [ -n "$k" ] && [ -f "$cache/boot/$k/kernel" ] && [ -f "$cache/boot/$k/initrd.img" ] &&
    [ "$(cat "$cache/boot/$k/stamp" 2>/dev/null)" = "$stamp" ] &&
    command -v qemu-system-x86_64 >/dev/null 2>&1
}

log="$cache/setup.log"
# Runs a command with its output appended to the setup log; on failure shows its tail.
logged() {
  echo "+ $*" >>"$log"
  if ! "$@" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    return 1
  fi
}

# (Output into a variable first: with pipefail, "cmd | grep -q" fails when grep's early
# exit makes cmd die of SIGPIPE.)
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = 'install ok installed' ]; }
has_candidate() {
  local policy
  policy="$(apt-cache policy "$1" 2>/dev/null || true)"
  [[ "$policy" == *"Candidate: "[!\(]* ]]
}

apt_updated=0
apt_update() {
  [ $apt_updated = 0 ] || return 0
  say "apt-get update"
  logged apt-get update || fail "apt-get update failed (log: $log)"
  apt_updated=1
}

ensure_packages() {
  # qemu-system-x86: qemu-system-x86_64 (pulls in seabios, the BIOS, and
  #   qemu-system-data, whose linuxboot_dma.bin boots -kernel/-initrd).
  # busybox-static: the initramfs's only program (a static busybox: sh, mount, modprobe,
  #   ip, chroot, poweroff, ...); on the host, its depmod writes modules.dep for the
  #   extracted kernel and its cpio packs the initramfs (no kmod or cpio package needed).
  # xz-utils: xz, to unpack the kernel's ELF vmlinux from the xz-compressed bzImage
  #   (see build_boot; Priority standard, so usually there already).
  local need=() p
  for p in qemu-system-x86 busybox-static xz-utils; do installed "$p" || need+=("$p"); done
  [ ${#need[@]} -gt 0 ] || return 0
  [ "$(id -u)" = 0 ] || skip "setup needs root to install ${need[*]}"
  for p in "${need[@]}"; do has_candidate "$p" || apt_update; done
  say "apt-get install ${need[*]}"
  if ! DEBIAN_FRONTEND=noninteractive logged apt-get install -y --no-install-recommends "${need[@]}"; then
    # Stale package lists (the mirror no longer has those versions): once more, updated.
    [ $apt_updated = 0 ] || fail "apt-get install ${need[*]} failed (log: $log)"
    apt_update
    DEBIAN_FRONTEND=noninteractive logged apt-get install -y --no-install-recommends "${need[@]}" ||
      fail "apt-get install ${need[*]} failed (log: $log)"
  fi
}

# The concrete kernel package that the linux-image-amd64 metapackage depends on.
kernel_of_metapackage() {
  local k
  k="$(apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' || true)"
  echo "${k%%$'\n'*}"
}
resolve_kernel() {
  local k
  k="$(kernel_of_metapackage)"
  if [ -z "$k" ]; then
    apt_update
    k="$(kernel_of_metapackage)"
  fi
  echo "$k"
}

# Downloads the kernel package and extracts it to $cache/kernel/PKG (not installed).
extract_kernel() {
  local k="$1" dir="$cache/kernel/$1" dl="$cache/dl" deb kver
  [ -f "$dir/.extracted" ] && return 0
  rm -rf "$dl" "$dir" "$dir.tmp"
  mkdir -p "$dl" "$dir.tmp"
  # apt's download sandbox user must be able to write there.
  id _apt >/dev/null 2>&1 && chown _apt "$dl"
  say "apt-get download $k"
  if ! (cd "$dl" && logged apt-get download "$k"); then
    apt_update
    (cd "$dl" && logged apt-get download "$k") || fail "apt-get download $k failed (log: $log)"
  fi
  deb="$(ls "$dl/${k}"_*.deb)"
  logged dpkg-deb -x "$deb" "$dir.tmp" || fail "dpkg-deb -x $deb failed"
  kver="$(ls "$dir.tmp/lib/modules")"
  [ -f "$dir.tmp/boot/vmlinuz-$kver" ] || fail "no boot/vmlinuz-$kver in $deb"
  # The package has no modules.dep (its postinst runs depmod): make one.
  logged busybox depmod -b "$dir.tmp" "$kver" || fail "depmod for $kver failed"
  mv "$dir.tmp" "$dir"
  touch "$dir/.extracted"
  rm -rf "$dl"
}

# Builds $cache/boot/PKG/{kernel,initrd.img,stamp} from the extracted kernel.
build_boot() {
  local k="$1" kdir="$cache/kernel/$1" out="$cache/boot/$1" kver mdir stage line rel
  kver="$(ls "$kdir/lib/modules")"
  mdir="$kdir/lib/modules/$kver"
  say "building the initramfs for $kver"
  # modules.dep: "kernel/a.ko: kernel/b.ko kernel/c.ko"
  local -A deps=() seen=()
  while IFS= read -r line; do
    deps["${line%%:*}"]="${line#*:}"
  done <"$mdir/modules.dep"
  local order=()
  add_module() {
    local m="$1" d
    [ -n "${seen[$m]:-}" ] && return 0
    [ -n "${deps[$m]+set}" ] || fail "module $m not in $mdir/modules.dep"
    seen["$m"]=1
    for d in ${deps[$m]}; do add_module "$d"; done
    order+=("$m")
  }
  for rel in "${modules_9p[@]}" "${modules_run[@]}"; do add_module "$rel"; done

  rm -rf "$out.tmp"
  stage="$out.tmp/root"
  mkdir -p "$stage/bin" "$stage/etc" "$stage/lib/modules/$kver"
  cp /bin/busybox "$stage/bin/busybox"
  ln -s busybox "$stage/bin/sh"  # for init's #!/bin/sh; init installs the other applets
  cp "$init_src" "$stage/init"
  chmod 755 "$stage/init"
  for rel in "${order[@]}"; do
    mkdir -p "$stage/lib/modules/$kver/$(dirname "$rel")"
    cp "$mdir/$rel" "$stage/lib/modules/$kver/$rel"
  done
  # What init modprobes (with their dependencies), by module name.
  for rel in "${modules_9p[@]}"; do basename "$rel" .ko; done >"$stage/etc/modules.9p"
  for rel in "${modules_run[@]}"; do basename "$rel" .ko; done >"$stage/etc/modules.run"
  cp "$mdir/modules.builtin" "$stage/lib/modules/$kver/"
  # modules.dep/alias of the initramfs's own modules, for the guest's modprobe.
  logged busybox depmod -b "$stage" "$kver" || fail "depmod of the initramfs failed"
  (cd "$stage" && find . | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0 2>/dev/null) |
    gzip -9 >"$out.tmp/initrd.img"
  # qemu boots the uncompressed ELF vmlinux through its PVH entry: that skips the
  # bzImage's real-mode setup and decompressor (~2-3 s per boot under TCG). The payload
  # is xz (CONFIG_KERNEL_XZ=y); when it cannot be unpacked, the bzImage boots as it is.
  local bz="$kdir/boot/vmlinuz-$kver" off
  off="$(LC_ALL=C grep -obUaP -m 1 '\xfd7zXZ\x00' "$bz" | cut -d: -f1 || true)"
  off="${off%%$'\n'*}"
  if [ -n "$off" ] && tail -c +$((off + 1)) "$bz" >"$out.tmp/kernel.xz" &&
    xz -dc --single-stream "$out.tmp/kernel.xz" >"$out.tmp/kernel" 2>>"$log" &&
    [ "$(head -c 4 "$out.tmp/kernel" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    rm -f "$out.tmp/kernel.xz"
  else
    rm -f "$out.tmp/kernel.xz"
    say "cannot unpack vmlinux from $bz; booting the bzImage"
    cp "$bz" "$out.tmp/kernel"
  fi
  echo "$stamp" >"$out.tmp/stamp"
  rm -rf "$stage" "$out"
  mv "$out.tmp" "$out"
  echo "${order[*]}" >>"$log"
}

setup() {
  local refresh="$1" k old
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock 9
  ensure_packages
  if [ "$refresh" = 0 ] && ready; then exec 9>&-; return 0; fi
  [ "$(id -u)" = 0 ] || [ -w "$cache" ] || skip "setup needs write access to $cache"
  k="$(resolve_kernel)"
  if [ -z "$k" ]; then
    if [ -f "$cache/current" ]; then
      k="$(cat "$cache/current")"
      say "cannot resolve linux-image-amd64; keeping the cached $k"
    else
      fail "cannot resolve the kernel package of linux-image-amd64 (apt-cache depends linux-image-amd64)"
    fi
  fi
  extract_kernel "$k"
  if [ "$(cat "$cache/boot/$k/stamp" 2>/dev/null)" != "$stamp" ]; then build_boot "$k"; fi
  echo "$k" >"$cache/current.tmp"
  mv "$cache/current.tmp" "$cache/current"
  # Older kernels' extracted trees (~400 MB each); their small boot dirs stay, in case a
  # concurrent run is about to boot one.
  for old in "$cache/kernel"/*; do
    [ "$old" = "$cache/kernel/$k" ] || rm -rf "$old"
  done
  exec 9>&-
}

if [ $setup_only = 1 ]; then
  setup 1
  say "ready: $(cat "$cache/current") in $cache/boot/$(cat "$cache/current"), accelerator $accel${CORIO_VM_ACCEL:+ (CORIO_VM_ACCEL)}$([ "$accel" = tcg ] && [ -z "${CORIO_VM_ACCEL:-}" ] && echo " (KVM: $(kvm_problem))")"
  [ $# -gt 0 ] || exit 0
elif ! ready; then
  setup 0
fi

# ---------------------------------------------------------------------------- run

kpkg="$(cat "$cache/current")"
boot="$cache/boot/$kpkg"

# POSIX sh single-quoting.
q() { local s="${1//\'/\'\\\'\'}"; printf "'%s'" "$s"; }

mkdir -p "$cache/runs"
rundir="$(mktemp -d "$cache/runs/run.XXXXXX")"
cleanup() { [ "${CORIO_VM_KEEP:-0}" = 1 ] || rm -rf "$rundir"; }
trap cleanup EXIT

cwd="$(pwd -P)"
{
  for name in $(compgen -e); do
    case "$name" in CORIO_*|GTEST_*) printf 'export %s=%s\n' "$name" "$(q "${!name}")" ;; esac
  done
  printf 'cd %s || { echo "vm-run.sh: cannot cd to %s in the VM" >&2; exit 125; }\n' \
    "$(q "$cwd")" "$(q "$cwd")"
  printf 'exec'
  for a in "$@"; do printf ' %s' "$(q "$a")"; done
  printf '\n'
} >"$rundir/cmd"

append="console=ttyS0 panic=-1 corio.run=$rundir"
if [ "${CORIO_VM_DEBUG:-0}" = 1 ]; then append+=" loglevel=7 corio.debug"; else append+=" quiet loglevel=0"; fi
append+="${CORIO_VM_APPEND:+ $CORIO_VM_APPEND}"

# ttyS0 (console: the kernel's and init's messages) -> console.log. The command's output
# -> the virtio-serial port corio.out (not a second 16550: that moves ~400 KB/s under
# TCG) -> a file chardev on qemu's fd 3, a pipe to cat. Not a stdio chardev: qemu makes
# those fds non-blocking (not to be done to our caller's stdout), and one whose stdin
# is at EOF counts as disconnected, which blocks the guest's writes to the port.
if [ "$accel" = kvm ]; then
  accel_args=(-enable-kvm -cpu host)
else
  # Multi-threaded TCG (one host thread per vCPU); "max" has AES-NI, PCLMULQDQ, SSSE3
  # and AVX2 for the crypto modules and the host's binaries.
  accel_args=(-accel tcg,thread=multi -cpu max)
fi
qemu=(
  qemu-system-x86_64 "${accel_args[@]}" -m 2G -smp 2
  -nographic -nodefaults -no-reboot
  -kernel "$boot/kernel" -initrd "$boot/initrd.img" -append "$append"
  -serial "file:$rundir/console.log"
  -chardev file,id=out,path=/proc/self/fd/3
  -device virtio-serial-pci,id=vser -device virtserialport,bus=vser.0,chardev=out,name=corio.out
  -virtfs "local,path=/,mount_tag=hostroot,security_model=passthrough,multidevs=remap"
)

exec 3> >(exec cat)
cat_pid=$!
timeout -k 5 "$vm_timeout" "${qemu[@]}" </dev/null >>"$rundir/qemu.err" 2>&1 &
vm_pid=$!
on_signal() {
  kill -TERM "$vm_pid" 2>/dev/null || true
  wait "$vm_pid" 2>/dev/null || true
  exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP
# Boot watchdog: init prints "corio-vm: init" on the console first thing (not always
# at the start of a line: the firmware's last output may precede it).
(
  end=$((SECONDS + boot_timeout))
  while [ $SECONDS -lt $end ]; do
    grep -qa 'corio-vm: init' "$rundir/console.log" 2>/dev/null && exit 0
    kill -0 "$vm_pid" 2>/dev/null || exit 0
    sleep 0.2
  done
  touch "$rundir/boot-timeout"
  kill -TERM "$vm_pid" 2>/dev/null
) &
watch_pid=$!
set +e
wait "$vm_pid"
rc=$?
set -e
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
exec 3>&-
wait "$cat_pid" 2>/dev/null || true

if [ "${CORIO_VM_DEBUG:-0}" = 1 ]; then
  say "console log:"; cat "$rundir/console.log" >&2 2>/dev/null || true
else
  grep -a '^vm init:' "$rundir/console.log" >&2 2>/dev/null || true
fi

if [ -f "$rundir/status" ]; then
  status="$(cat "$rundir/status")"
  case "$status" in ''|*[!0-9]*) fail "bad status '$status' from the VM" ;; esac
  exit "$status"
fi
if [ -f "$rundir/boot-timeout" ]; then
  skip "the VM did not boot within ${boot_timeout}s with $accel (CORIO_VM_BOOT_TIMEOUT)"
fi
if [ $rc = 124 ] || [ $rc = 137 ]; then
  say "timed out after ${vm_timeout}s (CORIO_VM_TIMEOUT): qemu killed"
  exit 124
fi
kvm_err="$(grep -i -m 1 'kvm' "$rundir/qemu.err" 2>/dev/null || true)"
if [ $rc != 0 ] && [ -n "$kvm_err" ]; then skip "KVM not usable: $kvm_err"; fi
say "the VM stopped without an exit status (qemu exit $rc); qemu's stderr and the console:"
cat "$rundir/qemu.err" >&2 2>/dev/null || true
tail -n 40 "$rundir/console.log" >&2 2>/dev/null || true
exit 125
