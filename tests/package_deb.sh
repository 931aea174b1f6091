#!/bin/sh
# package_deb.sh SOURCE_DIR WORK_DIR - `make deb` as a test: builds the Debian packages in a
# build tree of their own (prefix /usr, as the package installs), then checks them without
# installing anything on this machine: the files each holds, the control fields (dependencies
# computed by dpkg-shlibdeps), the conffile, the maintainer scripts (sh -n), the unit
# (systemd-analyze verify, when there is one), the packaged binary started from the unpacked
# tree until its /healthz answers, and `make install`'s tree with a program built against it
# through pkg-config. Installing the .deb itself needs a throwaway Debian
# root (a chroot); none is made here, and the test says so.
set -eu
src=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
fail() { echo "package_deb: $*" >&2; exit 1; }

cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
    -DLH_TESTS=OFF >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "configure"; }
cmake --build "$work/build" -j2 --target loophub loophub_static loophub_shared man \
    >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; fail "build"; }
(cd "$work/build" && cpack -G DEB >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack"; }
deb=$(ls "$work"/build/loophub_*.deb 2>/dev/null | head -n 1)
dev=$(ls "$work"/build/loophub-dev_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] && [ -n "$dev" ] || fail "no loophub and loophub-dev packages in $work/build"

root=$work/root
dpkg-deb -x "$deb" "$root"
dpkg-deb -x "$dev" "$root"
for f in usr/bin/loophub etc/loophub/loophub.conf usr/lib/systemd/system/loophub.service \
    usr/include/loophub/loophub.h usr/share/doc/loophub/README.md usr/share/man/man1/loophub.1 \
    usr/share/man/man1/loophub-run.1; do
    [ -e "$root/$f" ] || fail "$f is in neither package"
done
ls "$root"/usr/lib/*/libloophub.so.0 >/dev/null 2>&1 || fail "no libloophub.so.0"
ls "$root"/usr/lib/*/libloophub.a >/dev/null 2>&1 || fail "no libloophub.a in loophub-dev"
ls "$root"/usr/lib/*/pkgconfig/loophub.pc >/dev/null 2>&1 || fail "no loophub.pc in loophub-dev"
dpkg-deb -c "$deb" | grep -q 'usr/include' && fail "headers in the runtime package"

ctl=$work/control
dpkg-deb -e "$deb" "$ctl"
[ "$(cat "$ctl/conffiles")" = /etc/loophub/loophub.conf ] || fail "the config is not a conffile"
grep -q '^Depends: .*adduser' "$ctl/control" || fail "no Depends on adduser"
dpkg-deb -f "$dev" Depends | grep -q 'libzmq3-dev' || fail "loophub-dev does not bring what loophub.pc requires"
for lib in libzmq5 libsqlite3-0 libcurl4 libsystemd0; do
    grep -q "^Depends: .*$lib" "$ctl/control" || fail "dpkg-shlibdeps did not add $lib"
done
grep -q "^Depends: loophub (= " "$(dpkg-deb -e "$dev" "$work/devctl" && echo "$work/devctl/control")" \
    || fail "loophub-dev does not depend on its loophub"
for s in postinst prerm postrm; do
    [ -x "$ctl/$s" ] || fail "no executable $s"
    sh -n "$ctl/$s" || fail "$s does not parse"
done
grep -q 'adduser --system' "$ctl/postinst" || fail "postinst makes no system user"

if command -v systemd-analyze >/dev/null 2>&1; then
    unit=$work/loophub.service
    grep -q '^ExecStart=/usr/bin/loophub run --config /etc/loophub/loophub.conf ' \
        "$root/usr/lib/systemd/system/loophub.service" || fail "the packaged unit's ExecStart"
    sed "s|/usr/bin/loophub|$root/usr/bin/loophub|" "$root/usr/lib/systemd/system/loophub.service" >"$unit"
    systemd-analyze verify "$unit" || fail "systemd-analyze verify refused the unit"
else
    echo "package_deb: no systemd-analyze here: the unit was not verified"
fi

# the packaged binary runs: its version, then a hub on a store of its own until /healthz answers
"$root/usr/bin/loophub" --version | grep -q '^loophub [0-9]' || fail "loophub --version"
ok=0
for attempt in 1 2 3 4 5; do # a random free port: another try if this one is taken
    port=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
    "$root/usr/bin/loophub" run --config "$root/etc/loophub/loophub.conf" --db "$work/hub.db" \
        --http "127.0.0.1:$port" --zmq-pull off --zmq-router off --zmq-pub off \
        >"$work/hub.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        if curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then ok=1; break; fi
        kill -0 "$pid" 2>/dev/null || break # it exited: the port was taken, or worse
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" || true
    [ "$ok" = 1 ] && break
    grep -q 'in use' "$work/hub.log" || break
done
[ "$ok" = 1 ] || { cat "$work/hub.log"; fail "the packaged hub did not answer /healthz"; }

# `make install` into a staging root, then a program built against it through pkg-config alone
# (examples/embed.c: a hub in-process, a deploy and an incident in, the alert out)
DESTDIR="$work/inst" cmake --install "$work/build" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log"; fail "cmake --install"; }
pc=$(ls -d "$work"/inst/usr/lib/*/pkgconfig | head -n 1)
flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs loophub) || fail "pkg-config loophub"
libdir=$(dirname "$pc")
cc -o "$work/embed" "$src/examples/embed.c" $flags "-Wl,-rpath,$libdir" 2>"$work/cc.log" ||
    { cat "$work/cc.log"; fail "examples/embed.c does not build against the installed tree"; }
(cd "$work" && ./embed >"$work/embed.log" 2>&1) || { cat "$work/embed.log"; fail "embed against the installed library"; }

echo "package_deb: $(basename "$deb") and $(basename "$dev") built and checked; not installed" \
    "(that needs a throwaway Debian root: a chroot this test does not make)"
