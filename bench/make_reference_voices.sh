#!/usr/bin/env bash
# Make distinct reference speakers for bench/bench_likeness.py with Debian's offline synthesizers.
#
#   apt-get install -y flite festival festvox-kdlpc16k festvox-us-slt-hts espeak-ng
#   bash bench/make_reference_voices.sh [OUT_DIR]      # default: artifacts/reference_voices
#
# Each speaker reads the same ~12 s passage (different from the passage the bench has the engine speak).
# Voices whose synthesizer is not installed are skipped with a note.
set -euo pipefail

out="${1:-$(cd "$(dirname "$0")/.." && pwd)/artifacts/reference_voices}"
mkdir -p "$out"
text="A small boat drifted past the harbour wall while the gulls argued over scraps of bread. \
My grandmother kept every letter she ever received in a tin box beneath her bed. \
When the rain finally stopped, we walked to the village and bought warm bread for supper."

made=0
if command -v flite >/dev/null; then
    for voice in awb kal16 rms slt; do
        flite -voice "$voice" -t "$text" -o "$out/flite_${voice}.wav"
        made=$((made + 1))
    done
else
    echo "flite not installed: skipping flite voices" >&2
fi

if command -v text2wave >/dev/null; then
    tmp="$(mktemp)"
    trap 'rm -f "$tmp"' EXIT
    printf '%s\n' "$text" >"$tmp"
    for voice in kal_diphone ked_diphone cmu_us_slt_arctic_hts; do
        if text2wave -eval "(voice_${voice})" -o "$out/festival_${voice}.wav" "$tmp" 2>/dev/null; then
            made=$((made + 1))
        else
            rm -f "$out/festival_${voice}.wav"
            echo "festival voice $voice not installed: skipped" >&2
        fi
    done
else
    echo "festival not installed: skipping festival voices" >&2
fi

if command -v espeak-ng >/dev/null; then
    for voice in en-us+f3 en-gb-scotland+m3; do
        espeak-ng -v "$voice" -s 150 -w "$out/espeak_${voice//[^A-Za-z0-9]/_}.wav" "$text"
        made=$((made + 1))
    done
else
    echo "espeak-ng not installed: skipping espeak-ng voices" >&2
fi

echo "$made reference voices in $out"
