#!/usr/bin/env bash
# Make the speech samples of the transcription tests (tests/fixtures/speech/) with Debian's festival.
#
# Real synthesised speech, not recordings of people: festival + festvox-ru (the msu_ru_nsh voice) for
# Russian, festival's default English voice (kal_diphone, festvox-kallpc16k) for English; then sox turns
# each into what a phone line carries: 8 kHz, mono, signed 16-bit PCM WAV. The two-channel sample has the
# operator on channel 0 (left) and the customer on channel 1 (right), each silent while the other speaks.
# The reference texts are the `say` lines below and tests/fixtures/speech/README.md; the WAV files are
# committed, so the tests need neither festival nor sox. Run from anywhere; it rewrites the files:
#
#   sudo apt-get install -y festival festvox-ru festvox-kallpc16k sox
#   bash tools/speech/make_samples.sh
#
# Festival is deterministic for one voice version and sox runs without dither (-D), so a rerun gives the
# same bytes (the noise of silence.wav comes from sox -R, a fixed seed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$(cd "$here/../.." && pwd)/tests/fixtures/speech}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for tool in text2wave sox; do
    command -v "$tool" >/dev/null || { echo "make_samples: $tool missing (apt-get install festival sox)" >&2; exit 1; }
done

ru=msu_ru_nsh_clunits
en=kal_diphone

# synth VOICE NAME TEXT: speak TEXT with festival's VOICE, then 8 kHz mono 16-bit into $work/NAME.wav.
synth() {
    local voice=$1 name=$2 text=$3
    printf '%s\n' "$text" >"$work/$name.txt"
    text2wave -eval "(voice_$voice)" "$work/$name.txt" -o "$work/$name.raw.wav" 2>/dev/null
    # Half a second of line silence before and after, as in a call; -G guards against clipping.
    sox -D -G "$work/$name.raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$work/$name.wav" pad 0.5 0.5
}

# reference FILE SPEAKER LANGUAGE TEXT: a line of references.tsv (SPEAKER is - for one-channel files).
refs="$work/references.tsv"
printf 'file\tspeaker\tlanguage\ttext\n' >"$refs"
reference() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$refs"; }

# say VOICE NAME TEXT: synth, and keep it as $out/NAME.wav with its reference text.
say() {
    synth "$@"
    cp "$work/$2.wav" "$out/$2.wav"
    reference "$2.wav" - "$([ "$1" = "$en" ] && echo en || echo ru)" "$3"
}

say "$ru" ru_order_digits "Здравствуйте, я звоню по заказу номер 10234."
say "$ru" ru_order_words "Мой заказ номер десять тысяч двести тридцать четыре до сих пор не доставлен."
say "$ru" ru_refund "Я хочу оформить возврат товара, он пришёл сломанный."
say "$ru" ru_complaint "У меня жалоба на курьера, он опоздал на три часа."
say "$ru" ru_promise "Хорошо, я уточню на складе и перезвоню завтра утром."
say "$en" en_order "Hello, I am calling about my order. I would like to return it, please."

# Five seconds of a quiet line: low white noise (about -70 dBFS), no speech. Whisper without a voice filter
# writes text such as «Продолжение следует» over this.
sox -D -R -n -r 8000 -c 1 -b 16 -e signed-integer "$out/silence.wav" synth 5 whitenoise vol 0.0003
reference silence.wav - ru ""

# The two-channel call: operator (channel 0) greets, customer (channel 1) answers, operator promises.
synth "$ru" op_greeting "Интернет-магазин, здравствуйте, чем могу помочь?"
synth "$ru" cu_question "Здравствуйте, где мой заказ номер десять тысяч двести тридцать четыре?"
synth "$ru" op_promise "Я проверю и перезвоню вам завтра."
length() { soxi -D "$work/$1.wav"; }
g=$(length op_greeting); q=$(length cu_question); p=$(length op_promise)
# Operator: greeting, silence while the customer speaks, promise. Customer: silence, question, silence.
sox -D "$work/op_greeting.wav" "$work/op_line.wav" pad 0 "$q"
sox -D "$work/op_line.wav" "$work/op_promise.wav" "$work/operator.wav"
sox -D "$work/cu_question.wav" "$work/customer.wav" pad "$g" "$p"
sox -D -M "$work/operator.wav" "$work/customer.wav" -r 8000 -b 16 -e signed-integer "$out/stereo_call.wav"
reference stereo_call.wav operator ru "$(cat "$work/op_greeting.txt") $(cat "$work/op_promise.txt")"
reference stereo_call.wav customer ru "$(cat "$work/cu_question.txt")"
cp "$refs" "$out/references.tsv"

for f in "$out"/*.wav; do
    printf '%s\t%s s\t%s ch\n' "$(basename "$f")" "$(soxi -D "$f")" "$(soxi -c "$f")"
done
