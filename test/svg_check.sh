#!/usr/bin/env bash
# test/svg_check.sh [N] -- edp.trips_svg renders in headless Chromium
#
# Issue 4, acceptance: "the SVG renders (checked in headless Chromium)".  A
# documented check, not part of `make installcheck`: Chromium is a big
# download (Debian package `chromium`, installed here with apt-get when
# absent and the script runs as root).
#
# On a throwaway cluster (test/bench/lib.sh) it loads N generated trips
# (edp.generate_trips, seed 1; default 200,000 as in the demo), writes two
# maps of region Prague with edp.trips_svg (the demo's call: groups of
# origin and destination within 150 m, 20 min, at least 20 trips, 3000
# trips drawn, 900 px wide), renders each with
#   chromium --headless --screenshot
# at the SVG's own size, and counts the PNG's pixels by colour
# (test/svg_png_colours.py, zlib only).  It fails unless
#   - Chromium parsed the document as SVG (--dump-dom has an <svg> root and
#     no XML <parsererror>);
#   - the screenshot has the SVG's size and the map is drawn: the area's
#     fill covers >= 20% of the pixels, trip lines (blue) >= 500 pixels,
#     group routes and dots (red) >= 100 pixels;
#   - a control map with no groups (min_trips larger than N) has trip
#     pixels but no red pixels, so the colour test tells groups apart.
# Prints the pixel counts and "svg check: ok".
#
# Environment: PG_BINDIR (PostgreSQL with edp installed), BENCH_DIR (default
# /tmp/edp-svg-check), BENCH_PORT (default 55469), CHROMIUM (default
# chromium), SVG_CHECK_KEEP (a directory: the SVGs and screenshots are
# copied there to look at).
BENCH_DIR=${BENCH_DIR:-/tmp/edp-svg-check}
BENCH_PORT=${BENCH_PORT:-55469}
BENCH_SHARED_BUFFERS=${BENCH_SHARED_BUFFERS:-128MB}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/bench/lib.sh"

N=${1:-200000}
CHROMIUM=${CHROMIUM:-chromium}
export PGOPTIONS="-c client_min_messages=warning"

if ! command -v "$CHROMIUM" >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "svg check: $CHROMIUM not found (apt-get install chromium)" >&2
        exit 2
    fi
    echo "installing chromium" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
fi

fail() { echo "svg check: FAILED: $*" >&2; exit 1; }

bench_start_cluster
trap bench_stop_cluster EXIT
# the cluster runs as postgres; the SVG files and Chromium's profile live here
OUT=$(mktemp -d /tmp/edp-svg-out.XXXXXX)
trap 'bench_stop_cluster; rm -rf "$OUT"' EXIT

bench_psql -c "SELECT edp.create_trips_table('trips')" >/dev/null
bench_psql -c "INSERT INTO trips (region, origin, destination, datetime, datasource)
               SELECT * FROM edp.generate_trips($N, 1)"
PRAGUE="(SELECT geom FROM edp.regions WHERE name = 'Prague')"
bench_psql -At -c "SELECT edp.trips_svg('trips', $PRAGUE, 150, 150, 20, 20, 3000, 900)" >"$OUT/map.svg"
bench_psql -At -c "SELECT edp.trips_svg('trips', $PRAGUE, 150, 150, 20, $N + 1, 3000, 900)" >"$OUT/control.svg"
groups=$(grep -o '<g class="group"' "$OUT/map.svg" | wc -l)
echo "map.svg: $(wc -c <"$OUT/map.svg") bytes, $groups groups; control.svg: $(grep -o '<g class="group"' "$OUT/control.svg" | wc -l) groups"

# render FILE: screenshot FILE.png at the SVG's size; check the DOM
render() {
    local svg=$1 w h
    read -r w h < <(sed -n 's/.*<svg [^>]*width="\([0-9]*\)" height="\([0-9]*\)".*/\1 \2/p' "$svg")
    [ -n "$w" ] || fail "$svg: no width/height on the <svg> element"
    # --no-sandbox: Chromium refuses to run as root with its sandbox
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$OUT/profile" --dump-dom "file://$svg" >"$svg.dom" 2>"$OUT/chromium.log" ||
        fail "chromium --dump-dom failed: $(tail -n 3 "$OUT/chromium.log")"
    grep -q '<svg' "$svg.dom" || fail "$svg: Chromium's DOM has no <svg> element"
    ! grep -q 'parsererror' "$svg.dom" || fail "$svg: Chromium reports an XML parse error"
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$OUT/profile" --window-size="$w,$h" \
        --screenshot="$svg.png" "file://$svg" >/dev/null 2>>"$OUT/chromium.log" ||
        fail "chromium --screenshot failed: $(tail -n 3 "$OUT/chromium.log")"
    [ -s "$svg.png" ] || fail "$svg: no screenshot written"
    echo "$w $h $(python3 "$here/svg_png_colours.py" "$svg.png")"
}

echo "svg width height | png width height pixels background area trips groups other"
read -r sw sh pw ph total bg area trips red other < <(render "$OUT/map.svg")
echo "map:     $sw $sh | $pw $ph $total $bg $area $trips $red $other"
[ "$pw" = "$sw" ] && [ "$ph" = "$sh" ] || fail "screenshot is ${pw}x$ph, the SVG ${sw}x$sh"
[ "$groups" -gt 0 ] || fail "the map has no groups"
[ $((area * 5)) -ge "$total" ] || fail "the area's fill covers $area of $total pixels (< 20%)"
[ "$trips" -ge 500 ] || fail "only $trips trip (blue) pixels"
[ "$red" -ge 100 ] || fail "only $red group (red) pixels"

read -r sw sh pw ph total bg area trips red other < <(render "$OUT/control.svg")
echo "control: $sw $sh | $pw $ph $total $bg $area $trips $red $other"
[ "$trips" -ge 500 ] || fail "control: only $trips trip (blue) pixels"
[ "$red" -eq 0 ] || fail "control map without groups has $red red pixels"
if [ -n "${SVG_CHECK_KEEP:-}" ]; then
    mkdir -p "$SVG_CHECK_KEEP" && cp "$OUT"/*.svg "$OUT"/*.png "$SVG_CHECK_KEEP"/
fi
echo "chromium: $("$CHROMIUM" --version 2>/dev/null)"
echo "svg check: ok"
