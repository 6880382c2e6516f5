#!/usr/bin/env bash
# Regenerates the test clips in media/ from ffmpeg's synthetic sources
# (lavfi testsrc2 + sine), so nobody has to trust or license a real recording.
#
# The output is meant to be reproducible with the same ffmpeg build: bitexact
# flags keep encoder version strings out of the files, libx264 runs on one
# thread (its frame-threaded rate control depends on thread timing otherwise)
# and every clip gets fixed encoder settings. A different ffmpeg/x264 version
# may still produce different bytes; tests never compare bytes, they measure
# the clips with ffprobe.
#
# GOPs are exact: -g N with keyint_min N and sc_threshold 0 (no scene-cut
# keyframes), so "gop2s" at 25 fps has a keyframe exactly every 50 frames.
#
# Usage: media/make.sh            (writes into the directory of this script)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

command -v ffmpeg >/dev/null || { echo "make.sh: ffmpeg not found" >&2; exit 1; }

readonly DUR=10 FPS=25 SIZE=320x240 RATE=44100

# Shared flags. -map_metadata -1 and +bitexact keep creation times and
# encoder versions out of the container.
common=(-hide_banner -loglevel error -y)
out=(-fflags +bitexact -map_metadata -1)
vsrc=(-f lavfi -i "testsrc2=size=${SIZE}:rate=${FPS}:duration=${DUR}")
asrc=(-f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=${RATE}:duration=${DUR}")

# x264: fixed preset/profile/CRF; -threads 1 for determinism.
x264() { # $1 = GOP in frames, $2 = B-frames
	echo -c:v libx264 -threads 1 -preset veryfast -profile:v high -level 3.0 \
		-pix_fmt yuv420p -crf 33 -g "$1" -keyint_min "$1" -sc_threshold 0 \
		-bf "$2" -flags:v +bitexact
}
aac=(-c:a aac -b:a 64k -ac 2 -ar "${RATE}" -flags:a +bitexact)

# shellcheck disable=SC2046 # x264 prints flags meant to be split
av_clip() { # $1 = output, $2 = GOP frames, $3 = B-frames
	ffmpeg "${common[@]}" "${vsrc[@]}" "${asrc[@]}" -map 0:v -map 1:a \
		$(x264 "$2" "$3") "${aac[@]}" -t "${DUR}" "${out[@]}" "$1"
}

av_clip h264_aac_gop1s.mp4 "${FPS}" 0
av_clip h264_aac_gop2s.mp4 $((2 * FPS)) 0
av_clip h264_aac_gop2s_bframes.mp4 $((2 * FPS)) 2

# shellcheck disable=SC2046
ffmpeg "${common[@]}" "${vsrc[@]}" $(x264 $((2 * FPS)) 0) -an -t "${DUR}" "${out[@]}" video_only_h264.mp4
ffmpeg "${common[@]}" "${asrc[@]}" -vn "${aac[@]}" -t "${DUR}" "${out[@]}" audio_only_aac.mp4

# The same A/V content as an FLV file (stream copy) for tools that want FLV
# input, e.g. `ffmpeg -re -i media/h264_aac_gop2s.flv -c copy -f flv rtmp://...`.
ffmpeg "${common[@]}" -i h264_aac_gop2s.mp4 -c copy "${out[@]}" -f flv h264_aac_gop2s.flv

ls -l ./*.mp4 ./*.flv
