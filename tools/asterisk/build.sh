#!/usr/bin/env bash
# Build Asterisk 22 (with the bundled pjproject) into a cache directory outside the repository, once.
#
# The PBX test tier runs this real Asterisk. The build is reused while the stamp file names the same
# version and module set, so only a fresh machine pays the ~3 minutes of `make -j2`.
#
#   PEREZVON_ASTERISK_SRC    folder with asterisk-22.10.1.tar.xz, pjproject-2.17.tar.bz2 and SHA256SUMS
#                            (default: ../shared/asterisk beside the checkout, when it exists; otherwise the
#                            official release tarballs are downloaded and checked against the pinned SHA-256)
#   PEREZVON_ASTERISK_PREFIX where to install (default: ~/.cache/perezvon/asterisk-22.10.1)
#   PEREZVON_SKIP_APT=1      do not apt-get the build packages (you installed them yourself)
#
# Prints the prefix on its last line.
set -euo pipefail

VERSION=22.10.1
PJPROJECT=2.17
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/perezvon
prefix=${PEREZVON_ASTERISK_PREFIX:-$cache_root/asterisk-$VERSION}
# Modules the service and the PBX tier need; a change here rebuilds (the stamp holds this list).
MODULES="chan_pjsip res_agi app_queue app_mixmonitor app_dial chan_audiosocket res_audiosocket app_audiosocket
cdr_manager cel_manager cdr_csv app_voicemail func_callerid cdr_pgsql cel_pgsql app_originate app_directed_pickup
app_playback app_echo app_record codec_ulaw codec_alaw format_wav format_pcm res_musiconhold"
stamp="$prefix/.perezvon-build"
want="asterisk $VERSION pjproject $PJPROJECT modules: $(echo $MODULES)"

log() { printf 'asterisk-build: %s\n' "$*" >&2; }
dl_cache="$cache_root/downloads"

# The build packages, and what the PBX tier runs beside Asterisk (sipp, sox), also when the build itself
# is cached: a fresh machine may get the cache restored but not the packages.
if [ "${PEREZVON_SKIP_APT:-0}" != 1 ]; then
    pkgs="build-essential pkg-config libjansson-dev libxml2-dev libsqlite3-dev uuid-dev libedit-dev libssl-dev
          libsrtp2-dev libcurl4-openssl-dev libpq-dev bzip2 xz-utils sip-tester sox libcap2-bin"
    missing=$(dpkg-query -W -f='${Package} ${Status}\n' $pkgs 2>/dev/null | grep -v 'install ok installed' | cut -d' ' -f1 || true)
    # dpkg-query prints nothing for packages it has never heard of: count those as missing too.
    for p in $pkgs; do dpkg-query -W "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    if [ -n "$(echo $missing)" ]; then
        sudo=$([ "$(id -u)" = 0 ] || echo sudo)
        log "installing build packages:$(echo " $missing" | tr -s ' ')"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
fi

# The sample configuration files (configs/samples/*.conf.sample) as `make samples` would install them,
# into $prefix/etc/asterisk: a packaged Asterisk has them, and asterisk-conf/README.md says to copy the
# project's files over them. The PBX tier starts from them too, so it loads what an admin's server loads.
install_samples() {
    [ -f "$prefix/etc/asterisk/asterisk.conf" ] && return 0
    local tarball="$dl_cache/asterisk-$VERSION.tar.xz" tmp
    [ -f "$tarball" ] || { log "no $tarball for the sample configs"; return 1; }
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/perezvon-asterisk-samples.XXXXXX")
    tar -xJf "$tarball" -C "$tmp" --wildcards "asterisk-$VERSION/configs/samples/*"
    mkdir -p "$prefix/etc/asterisk"
    for f in "$tmp/asterisk-$VERSION/configs/samples/"*.sample; do
        name=$(basename "$f" .sample)
        cp "$f" "$prefix/etc/asterisk/$name"
    done
    rm -rf "$tmp"
    log "sample configs in $prefix/etc/asterisk"
}

# sipp's play_pcap_audio (the tier's phones and provider send RTP from a pcap) writes through a raw
# socket: run as a user, not root, sipp needs CAP_NET_RAW.
sipp_raw_socket() {
    local sipp_bin
    sipp_bin=$(command -v sipp || true)
    [ -n "$sipp_bin" ] && [ "$(id -u)" != 0 ] || return 0
    if ! /sbin/getcap "$sipp_bin" 2>/dev/null | grep -q cap_net_raw; then
        log "granting cap_net_raw to $sipp_bin (sudo setcap)"
        sudo /sbin/setcap cap_net_raw+ep "$sipp_bin"
    fi
}

if [ -x "$prefix/sbin/asterisk" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    install_samples
    sipp_raw_socket
    echo "$prefix"
    exit 0
fi


src_dir=${PEREZVON_ASTERISK_SRC:-}
if [ -z "$src_dir" ] && [ -d "$repo/../shared/asterisk" ]; then
    src_dir="$repo/../shared/asterisk"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/perezvon-asterisk-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$dl_cache"

if [ -n "$src_dir" ]; then
    log "source: $src_dir"
    (cd "$src_dir" && sha256sum -c --quiet SHA256SUMS)
    cp "$src_dir/asterisk-$VERSION.tar.xz" "$src_dir/pjproject-$PJPROJECT.tar.bz2" "$dl_cache/"
else
    # Outside this project's workplace: fetch the official releases and pin them by SHA-256.
    base=https://downloads.asterisk.org/pub/telephony/asterisk/releases
    pjbase=https://raw.githubusercontent.com/asterisk/third-party/master/pjproject/$PJPROJECT
    curl -fsSL -o "$dl_cache/asterisk-$VERSION.tar.xz" "$base/asterisk-$VERSION.tar.xz"
    curl -fsSL -o "$dl_cache/pjproject-$PJPROJECT.tar.bz2" "$pjbase/pjproject-$PJPROJECT.tar.bz2"
    (cd "$dl_cache" && sha256sum -c --quiet "$here/SHA256SUMS")
fi

log "unpacking into $work"
tar -xJf "$dl_cache/asterisk-$VERSION.tar.xz" -C "$work"
cd "$work/asterisk-$VERSION"
log "configure"
./configure --prefix="$prefix" --with-pjproject-bundled --with-download-cache="$dl_cache" --without-libjwt \
    >"$work/configure.log" 2>&1 || { tail -n 40 "$work/configure.log" >&2; exit 1; }
make menuselect.makeopts >/dev/null
enable=""
for m in $MODULES; do enable="$enable --enable $m"; done
menuselect/menuselect --disable CORE-SOUNDS-EN-GSM --disable MOH-OPSOUND-WAV --disable BUILD_NATIVE \
    $enable menuselect.makeopts >/dev/null
log "make -j$(nproc) (about 3 minutes on 2 cores)"
make -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -n 60 "$work/make.log" >&2; exit 1; }
rm -rf "$prefix"
make install >"$work/install.log" 2>&1 || { tail -n 40 "$work/install.log" >&2; exit 1; }
for m in $MODULES; do
    [ -f "$prefix/lib/asterisk/modules/$m.so" ] || { log "module $m was not built"; exit 1; }
done
install_samples
sipp_raw_socket
echo "$want" >"$stamp"
log "installed $("$prefix/sbin/asterisk" -V)"
echo "$prefix"
