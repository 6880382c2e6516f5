#!/bin/sh
# Regenerates the MP4 fixtures of the ingest tests (ffmpeg 5.1 with
# libsvtav1, libaom, librav1e, libx265 and libx264; Debian 12). The tests
# read the decoder configuration records (av1C, hvcC, avcC, esds) and the
# samples, and publish them as FLV / E-RTMP tags: every one must pass.
set -e
cd "$(dirname "$0")"
src="-f lavfi -i testsrc2=size=128x72:rate=10 -t 2"
ff="ffmpeg -hide_banner -loglevel error -y"
$ff $src -f lavfi -i sine=frequency=440:sample_rate=44100 -t 2 -pix_fmt yuv420p \
	-c:v libsvtav1 -preset 12 -g 10 -c:a aac -b:a 32k -ac 1 -fflags +bitexact -flags:v +bitexact av1_svt_aac.mp4
$ff $src -pix_fmt yuv420p10le -c:v libaom-av1 -usage realtime -cpu-used 8 -g 10 av1_aom_10bit.mp4
$ff $src -pix_fmt yuv420p -c:v librav1e -speed 10 -g 10 av1_rav1e.mp4
$ff $src -f lavfi -i sine=frequency=440:sample_rate=48000 -t 2 -pix_fmt yuv420p10le \
	-c:v libx265 -preset ultrafast -x265-params log-level=0:keyint=10:bframes=2 -tag:v hev1 \
	-c:a aac -b:a 32k -ac 2 -fflags +bitexact -flags:v +bitexact hevc_hev1_main10_aac.mp4
$ff $src -pix_fmt yuv422p10le -c:v libx264 -preset veryfast -x264-params slices=4:keyint=10 \
	-fflags +bitexact -flags:v +bitexact h264_high422_slices.mp4
