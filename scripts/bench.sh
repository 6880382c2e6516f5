#!/usr/bin/env bash
# Ripple's standard load scenarios, run against Ripple and, in the same run
# and on the same machine, nginx-rtmp and lal, so that the ratios between
# servers are meaningful even when absolute figures drift (docs/performance.md §7).
#
#   ./scripts/bench.sh                    all scenarios, 30 s windows (≈ 20 min)
#   WINDOW=10s ./scripts/bench.sh         shorter windows (a quick look)
#   SERVERS="ripple lal" SCENARIOS="httpflv-1000 wsflv-1000" ./scripts/bench.sh
#   BASE=main~3 SERVERS="ripple-base ripple" ./scripts/bench.sh
#                                         also build Ripple at git revision
#                                         BASE as server "ripple-base": a
#                                         before/after comparison in one sitting
#
# Scenarios are PROTO-N: rtmp, httpflv, wsflv, hls with N players of one
# stream; httpflv-stalled-N adds N/10 viewers that never read; ingest-N is N
# publishers (one player, to check they flow); httpflv-mw200-N is HTTP-FLV with
# Ripple's hub.merge_window at 200ms (Ripple only: the others have no such
# setting; compare with nginx-rtmp's rtmp-1000). PROTO-rec-N (httpflv-rec-100,
# ingest-rec-20) is the same scenario with every stream recorded to fMP4
# (Ripple only): compare it with PROTO-N of the same run for the recorder's
# cost (CPU per recorded stream, players' added latency). httpsflv-N is
# HTTP-FLV over TLS (Ripple only, a self-signed certificate made here with
# openssl, http.tls.listen on): compare it with httpflv-N of the same run for
# the cost of TLS per player.
#
# Everything runs on 127.0.0.1, one server at a time, each run bounded in
# players and time. Results go to $OUT (default: a temp dir): one JSON report
# per run, the logs, and table.md (the Markdown table for the README).
# Not part of scripts/test.sh.
#
# Needs: go, ffmpeg, nginx with libnginx-mod-rtmp (installed with apt-get when
# missing and we are root). lal is built from the Go module proxy in a
# scratch module inside the temp dir; its code is never added to this repo.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

WINDOW=${WINDOW:-30s}
WARMUP=${WARMUP:-3s}
BASE=${BASE:-}
SERVERS=${SERVERS:-"ripple nginx-rtmp lal"}
SCENARIOS=${SCENARIOS:-"rtmp-100 rtmp-500 rtmp-1000 httpflv-100 httpflv-500 httpflv-1000 httpflv-stalled-1000 httpflv-mw200-1000 wsflv-1000 hls-50 ingest-20"}
LAL_VERSION=v0.37.4

WORK=$(mktemp -d /tmp/ripple-bench.XXXXXX)
chmod 755 "$WORK" # nginx's workers run unprivileged and write HLS here
OUT=${OUT:-$WORK/out}
mkdir -p "$OUT"
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

as_root() {
	if ((EUID == 0)); then "$@"; else sudo "$@"; fi
}

need_tools() {
	local missing=()
	command -v ffmpeg >/dev/null || missing+=(ffmpeg)
	if [[ " $SCENARIOS " == *" httpsflv-"* ]]; then
		command -v openssl >/dev/null || missing+=(openssl)
	fi
	if [[ " $SERVERS " == *" nginx-rtmp "* ]]; then
		command -v nginx >/dev/null || missing+=(nginx-light)
		[[ -e /usr/lib/nginx/modules/ngx_rtmp_module.so ]] || missing+=(libnginx-mod-rtmp)
	fi
	if ((${#missing[@]})); then
		log "installing ${missing[*]}"
		as_root apt-get update -qq
		DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
		# nginx's package starts a system instance; we only want our own.
		as_root systemctl disable --now nginx >/dev/null 2>&1 || true
	fi
	command -v go >/dev/null || { log "go is required"; exit 1; }
}

build() {
	log "building ripple and ripple-bench"
	go build -o "$WORK/ripple" ./cmd/ripple
	go build -o "$WORK/ripple-bench" ./cmd/ripple-bench
	if [[ -n $BASE ]]; then
		log "building ripple at $BASE as ripple-base"
		git worktree add -q --detach "$WORK/base" "$BASE"
		(cd "$WORK/base" && go build -o "$WORK/ripple-base" ./cmd/ripple)
		git worktree remove --force "$WORK/base"
	elif [[ " $SERVERS " == *" ripple-base "* ]]; then
		log "server ripple-base needs BASE=<git revision>"
		exit 1
	fi
	if [[ " $SERVERS " == *" lal "* ]]; then
		log "building lal $LAL_VERSION in a scratch module"
		mkdir -p "$WORK/lal"
		(
			cd "$WORK/lal"
			go mod init scratch/lalbench >/dev/null 2>&1
			GOFLAGS=-mod=mod go get "github.com/q191201771/lal/app/lalserver@$LAL_VERSION" >/dev/null 2>&1
			GOFLAGS=-mod=mod go build -o lalserver github.com/q191201771/lal/app/lalserver
		)
	fi
}

# The clip: 720p30 H.264 (GOP 2 s, no B-frames) + AAC at ≈ 2.2 Mbit/s, made
# here so that no large file is committed. Noise keeps the encoder at its
# target bitrate on synthetic content.
make_clip() {
	log "encoding the 720p30 2.2 Mbit/s clip"
	ffmpeg -hide_banner -loglevel error -y \
		-f lavfi -i "testsrc2=size=1280x720:rate=30" -f lavfi -i "sine=frequency=440:sample_rate=44100" \
		-t 20 -vf "noise=alls=12:allf=t" \
		-c:v libx264 -preset ultrafast -b:v 2100k -maxrate 2100k -bufsize 2100k \
		-g 60 -keyint_min 60 -sc_threshold 0 -bf 0 -pix_fmt yuv420p \
		-c:a aac -b:a 96k -ar 44100 -f flv "$WORK/clip.flv"
}

# wait_port HOST:PORT waits up to 10 s for a listener.
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		if (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	log "nothing listening on $1"
	return 1
}

# Ports: one pair per server, so a lingering socket never mixes them up.
RIPPLE_RTMP=127.0.0.1:19361 RIPPLE_HTTP=127.0.0.1:18091 RIPPLE_HTTPS=127.0.0.1:18491
NGINX_RTMP=127.0.0.1:19362 NGINX_HTTP=127.0.0.1:18092
LAL_RTMP=127.0.0.1:19363 LAL_HTTP=127.0.0.1:18093

REPORTS=()     # JSON reports in run order
SERVER_PIDS="" # what ripple-bench samples
SERVER_MAIN="" # what we stop

# start_ripple BINARY HLS [MERGE_WINDOW [RECORD]]: Ripple's defaults, except that HLS (on by
# default, one muxer per stream) runs only in the HLS scenario, as for the
# other two, and that the per-address connection caps are lifted: every
# player of the benchmark comes from 127.0.0.1 (nginx-rtmp and lal have none).
start_ripple() {
	local https=""
	if [[ ${5:-false} == true ]]; then
		https=$RIPPLE_HTTPS
		make_cert
	fi
	RIPPLE_HTTP_TLS_LISTEN=$https RIPPLE_HTTP_TLS_CERT_FILE=$WORK/cert.pem RIPPLE_HTTP_TLS_KEY_FILE=$WORK/key.pem \
	RIPPLE_HTTP_MAX_CONNECTIONS_PER_IP=0 RIPPLE_RTMP_MAX_CONNECTIONS_PER_IP=0 \
	RIPPLE_RTMP_LISTEN=$RIPPLE_RTMP RIPPLE_HTTP_LISTEN=$RIPPLE_HTTP RIPPLE_LOG_LEVEL=warn RIPPLE_HLS_ENABLED=$2 \
		RIPPLE_HUB_MERGE_WINDOW=${3:-0s} RIPPLE_RECORD_ENABLED=${4:-false} \
		RIPPLE_RECORD_PATH="$WORK/rec/{app}/{stream}/{time}.{ext}" "$WORK/$1" >>"$OUT/$1.log" 2>&1 &
	SERVER_MAIN=$! SERVER_PIDS=$!
	PIDS+=("$!")
	wait_port $RIPPLE_RTMP && wait_port $RIPPLE_HTTP && { [[ -z $https ]] || wait_port "$https"; }
}

# make_cert: a self-signed ECDSA P-256 certificate for the HTTPS scenarios
# (what ACME issuers hand out by default), made once per run.
make_cert() {
	[[ -s $WORK/cert.pem ]] && return 0
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
}

start_nginx() {
	local d=$WORK/nginx
	rm -rf "$d" && mkdir -p "$d/hls" "$d/tmp" "$d/logs"
	cat >"$d/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 16384;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 8192; }
rtmp {
    server {
        listen $NGINX_RTMP;
        chunk_size 4096;
        application live { live on; }
        application hls { live on; hls on; hls_path $d/hls; hls_fragment 2s; hls_playlist_length 6s; }
    }
}
http {
    access_log off;
    client_body_temp_path $d/tmp;
    server {
        listen $NGINX_HTTP;
        location /hls/ {
            types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
            alias $d/hls/;
            add_header Cache-Control no-cache;
        }
    }
}
EOF
	nginx -p "$d" -c "$d/nginx.conf" >>"$OUT/nginx.log" 2>&1 &
	SERVER_MAIN=$!
	PIDS+=("$!")
	wait_port $NGINX_RTMP
	local worker="" i
	for ((i = 0; i < 50; i++)); do
		worker=$(pgrep -P "$SERVER_MAIN" | head -1 || true)
		[[ -z $worker ]] || break
		sleep 0.1
	done
	SERVER_PIDS="$SERVER_MAIN${worker:+,$worker}"
}

start_lal() {
	local d=$WORK/lalrun hls=$1
	rm -rf "$d" && mkdir -p "$d"
	cat >"$d/lal.json" <<EOF
{
  "conf_version": "v0.4.1",
  "rtmp": {"enable": true, "addr": "$LAL_RTMP", "rtmps_enable": false, "gop_num": 0, "single_gop_max_frame_num": 0, "merge_write_size": 0},
  "in_session": {"add_dummy_audio_enable": false, "add_dummy_audio_wait_audio_ms": 150},
  "default_http": {"http_listen_addr": "$LAL_HTTP", "https_listen_addr": "127.0.0.1:0"},
  "httpflv": {"enable": true, "enable_https": false, "url_pattern": "/", "gop_num": 0, "single_gop_max_frame_num": 0},
  "hls": {"enable": $hls, "enable_https": false, "url_pattern": "/hls/", "out_path": "$d/hls/", "fragment_duration_ms": 2000,
          "fragment_num": 3, "delete_threshold": 3, "cleanup_mode": 1, "use_memory_as_disk_flag": false, "sub_session_timeout_ms": 30000},
  "httpts": {"enable": false, "enable_https": false, "url_pattern": "/"},
  "rtsp": {"enable": false, "rtsps_enable": false, "ws_rtsp_enable": false},
  "record": {"enable_flv": false, "enable_mpegts": false},
  "relay_push": {"enable": false, "addr_list": []},
  "static_relay_pull": {"enable": false, "addr": ""},
  "http_api": {"enable": false, "addr": "127.0.0.1:0"},
  "server_id": "1",
  "http_notify": {"enable": false},
  "simple_auth": {},
  "pprof": {"enable": false, "addr": "127.0.0.1:0"},
  "log": {"level": 3, "filename": "$d/lal.log", "is_to_stdout": false, "is_rotate_daily": false}
}
EOF
	(cd "$d" && exec "$WORK/lal/lalserver" -c "$d/lal.json") >>"$OUT/lal.log" 2>&1 &
	SERVER_MAIN=$! SERVER_PIDS=$!
	PIDS+=("$!")
	wait_port $LAL_RTMP && wait_port $LAL_HTTP
}

stop_server() {
	kill "$SERVER_MAIN" 2>/dev/null || true
	wait "$SERVER_MAIN" 2>/dev/null || true
	SERVER_MAIN=""
}

# play_url SERVER PROTO prints the play URL, or nothing when the server has
# no such output.
play_url() {
	local sv=$1 proto=$2 rtmp http
	case $sv in
	ripple | ripple-base) rtmp=$RIPPLE_RTMP http=$RIPPLE_HTTP ;;
	nginx-rtmp) rtmp=$NGINX_RTMP http=$NGINX_HTTP ;;
	lal) rtmp=$LAL_RTMP http=$LAL_HTTP ;;
	esac
	case $proto in
	rtmp | ingest) echo "rtmp://$rtmp/live/bench" ;;
	httpflv) [[ $sv != nginx-rtmp ]] && echo "http://$http/live/bench.flv" ;;
	httpsflv) [[ $sv == ripple* ]] && echo "https://$RIPPLE_HTTPS/live/bench.flv" ;;
	wsflv) [[ $sv != nginx-rtmp ]] && echo "ws://$http/live/bench.flv" ;;
	hls)
		case $sv in
		ripple | ripple-base) echo "http://$http/live/bench.m3u8" ;;
		nginx-rtmp) echo "http://$http/hls/bench.m3u8" ;;
		lal) echo "http://$http/hls/bench.m3u8" ;;
		esac
		;;
	esac
	return 0
}

publish_url() {
	local sv=$1 proto=$2
	case $sv in
	ripple | ripple-base) echo "rtmp://$RIPPLE_RTMP/live/bench" ;;
	nginx-rtmp) if [[ $proto == hls ]]; then echo "rtmp://$NGINX_RTMP/hls/bench"; else echo "rtmp://$NGINX_RTMP/live/bench"; fi ;;
	lal) echo "rtmp://$LAL_RTMP/live/bench" ;;
	esac
}

# run_one SERVER SCENARIO: start the server, publish, play, stop.
run_one() {
	local sv=$1 sc=$2 proto=${2%-*} n=${2##*-}
	local url pub players=$n publishers=1 warmup=$WARMUP stalled=0
	local merge=0s record=false tls=false
	if [[ $proto == *-rec ]]; then
		if [[ $sv != ripple* ]]; then
			log "$sc on $sv: recording scenarios are Ripple's only, skipped"
			return 0
		fi
		proto=${proto%-rec} record=true
		rm -rf "$WORK/rec"
	fi
	if [[ $proto == httpflv-stalled ]]; then
		proto=httpflv stalled=$((n / 10)) # 10 % extra viewers that never read
	fi
	if [[ $proto == httpflv-mw200 ]]; then
		if [[ $sv != ripple* ]]; then
			log "$sc on $sv: no merge-window setting, skipped"
			return 0
		fi
		proto=httpflv merge=200ms
	fi
	# httpsflv-N: HTTP-FLV over TLS (Ripple only: the others are not set up
	# for it), to compare with httpflv-N in the same run.
	[[ $proto == httpsflv ]] && tls=true
	url=$(play_url "$sv" "$proto")
	if [[ -z $url ]]; then
		log "$sc on $sv: no such output, skipped"
		return 0
	fi
	pub=$(publish_url "$sv" "$proto")
	if [[ $proto == ingest ]]; then
		publishers=$n players=1
		url="${url}-1"
	fi
	# HLS needs a few segments before players start at the live edge.
	[[ $proto == hls ]] && warmup=8s
	local hls=false
	[[ $proto == hls ]] && hls=true
	case $sv in
	ripple | ripple-base) start_ripple "$sv" $hls $merge $record $tls ;;
	nginx-rtmp) start_nginx ;;
	lal) start_lal $hls ;;
	esac
	local secs=${WINDOW%s}
	local pubdur=$((secs + 60))
	timeout $((pubdur + 10)) "$WORK/ripple-bench" publish -n "$publishers" -d "${pubdur}s" -i "$WORK/clip.flv" "$pub" \
		>>"$OUT/publish.log" 2>&1 &
	local pubpid=$!
	PIDS+=("$pubpid")
	sleep 1.5 # the publisher's handshake and first GOP
	log "$sc on $sv: $players players, $WINDOW window"
	timeout $((secs + 90)) "$WORK/ripple-bench" play -insecure=$tls -n "$players" -stalled "$stalled" -d "$WINDOW" -warmup "$warmup" \
		-pid "$SERVER_PIDS" -server "$sv" -scenario "$sc" -json "$OUT/$sc.$sv.json" "$url" \
		>"$OUT/$sc.$sv.txt" 2>&1 || log "$sc on $sv: ripple-bench play failed (see $OUT/$sc.$sv.txt)"
	[[ -s $OUT/$sc.$sv.json ]] && REPORTS+=("$OUT/$sc.$sv.json")
	sed 's/^/    /' "$OUT/$sc.$sv.txt" >&2
	kill "$pubpid" 2>/dev/null || true
	wait "$pubpid" 2>/dev/null || true
	stop_server
	if [[ $record == true ]]; then
		log "$sc on $sv: recorded $(du -sh "$WORK/rec" 2>/dev/null | cut -f1) in $(find "$WORK/rec" -type f 2>/dev/null | wc -l) files"
	fi
}

main() {
	need_tools
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
	build
	make_clip
	local started=$SECONDS sc sv
	for sc in $SCENARIOS; do
		for sv in $SERVERS; do
			run_one "$sv" "$sc"
		done
	done
	{
		printf '%s, %s, %d cores (%s), Go %s; %s windows; load before the run: %s\n\n' \
			"$(date -u +%Y-%m-%d)" "$(uname -m)" "$(nproc)" \
			"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
			"$(go env GOVERSION)" "$WINDOW" "$LOAD_BEFORE"
		"$WORK/ripple-bench" table "${REPORTS[@]}"
	} >"$OUT/table.md"
	log "done in $((SECONDS - started)) s; results in $OUT"
	cat "$OUT/table.md"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
main "$@"
