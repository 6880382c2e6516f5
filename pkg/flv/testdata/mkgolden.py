#!/usr/bin/env python3
"""Regenerate the FLV golden files in this directory (needs ffmpeg/ffprobe
with libx264, libx265 and libopus; run from this directory).

h264_aac.flv         written by ffmpeg's FLV muxer (legacy AVC + AAC, B-frames).
hevc_opus_ertmp.flv  E-RTMP v2 tags written here from an ffmpeg MP4 (hvc1 + Opus),
                     with a Metadata packet, a ModEx-wrapped frame, CodedFrames /
                     CodedFramesX like OBS, @setDataFrame metadata and SequenceEnd.
hevc_legacy12.flv    the same HEVC frames in the legacy codec-id-12 layout.

Each X.flv has an X.expect: one line per tag with what PacketFromTag must
report. Media values (timestamps, composition offsets, keyframe flags, payload
sizes) come from ffprobe, not from this script's own parsing, so the Go tests
check the parser against ffmpeg.
"""
import json, struct, subprocess, sys

def run(*args):
    return subprocess.run(args, check=True, capture_output=True).stdout

def unhexdump(s):
    out = bytearray()
    for line in s.strip().splitlines():
        out += bytes.fromhex(line[10:50].replace(' ', ''))
    return bytes(out)

def probe(path):
    j = json.loads(run('ffprobe', '-v', 'error', '-show_streams', '-show_packets', '-show_data', '-of', 'json', path))
    return j['streams'], j['packets']

def ms(t):
    return int(round(float(t) * 1000))

def tag(t, ts, body):
    h = bytes([t]) + len(body).to_bytes(3, 'big') + (ts & 0xFFFFFF).to_bytes(3, 'big') + bytes([ts >> 24 & 0xFF]) + b'\0\0\0'
    return h + body + (11 + len(body)).to_bytes(4, 'big')

def amf_str(s):
    return b'\x02' + len(s).to_bytes(2, 'big') + s.encode()

def amf_num(v):
    return b'\x00' + struct.pack('>d', v)

def amf_ecma(props):
    b = b'\x08' + len(props).to_bytes(4, 'big')
    for k, v in props:
        b += len(k).to_bytes(2, 'big') + k.encode() + (amf_num(v) if isinstance(v, (int, float)) else amf_str(v))
    return b + b'\x00\x00\x09'

def fourcc(s):
    return int.from_bytes(s.encode(), 'big')

FLAGS = {'video': 1, 'audio': 4}

def h264_aac():
    run('ffmpeg', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x96:rate=25',
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', '0.4',
        '-c:v', 'libx264', '-bf', '2', '-g', '5', '-crf', '40', '-threads', '1',
        '-c:a', 'aac', '-b:a', '24k', '-ac', '1', '-bitexact', '-f', 'flv', 'h264_aac.flv')
    _, pkts = probe('h264_aac.flv')
    queue = {'video': [p for p in pkts if p['codec_type'] == 'video'],
             'audio': [p for p in pkts if p['codec_type'] == 'audio']}
    d = open('h264_aac.flv', 'rb').read()
    off, lines = 13, []
    while off + 11 <= len(d):
        t = d[off]
        n = int.from_bytes(d[off+1:off+4], 'big')
        ts = int.from_bytes(d[off+4:off+7], 'big') | d[off+7] << 24
        body = d[off+11:off+11+n]
        off += 15 + n
        if t == 18:
            lines.append(f'tag=18 ts={ts} kind=data codec=unknown header=0 key=0 cts=0 payload=-1')
            continue
        kind = 'video' if t == 9 else 'audio'
        codec = 'h264' if t == 9 else 'aac'
        if body[1] == 0:  # AVC / AAC sequence header
            lines.append(f'tag={t} ts={ts} kind={kind} codec={codec} header=1 key=0 cts=0 payload={n - (5 if t == 9 else 2)}')
            continue
        if t == 9 and body[1] == 2:  # AVC end of sequence: not an ffprobe packet
            lines.append(f'tag=9 ts={ts} kind=video codec=h264 header=0 key=0 cts=0 payload=0')
            continue
        p = queue[kind].pop(0)
        key = int(kind == 'video' and 'K' in p['flags'])
        cts = ms(p['pts_time']) - ms(p['dts_time'])
        lines.append(f'tag={t} ts={ms(p["dts_time"])} kind={kind} codec={codec} header=0 key={key} cts={cts} payload={p["size"]}')
    open('h264_aac.expect', 'w').write('\n'.join(lines) + '\n')

def hevc_source():
    run('ffmpeg', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x96:rate=25',
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '0.4',
        '-c:v', 'libx265', '-x265-params', 'log-level=none:info=0:bframes=2:keyint=5:frame-threads=1:pools=none',
        '-crf', '40', '-c:a', 'libopus', '-b:a', '12k', '-ac', '1', '-bitexact', '/tmp/ripple_hevc_src.mp4')
    streams, pkts = probe('/tmp/ripple_hevc_src.mp4')
    ex = {s['codec_type']: unhexdump(s['extradata']) for s in streams}
    # Shift so the first (negative, B-frame) DTS lands at 0.
    shift = -min(ms(p['dts_time']) for p in pkts)
    return ex, pkts, shift

def hevc_opus_ertmp(ex, pkts, shift):
    out = b'FLV\x01' + bytes([5]) + (9).to_bytes(4, 'big') + b'\0\0\0\0'
    lines = []
    meta = amf_str('@setDataFrame') + amf_str('onMetaData') + amf_ecma([
        ('width', 160), ('height', 96), ('framerate', 25), ('videocodecid', fourcc('hvc1')),
        ('audiocodecid', fourcc('Opus')), ('audiosamplerate', 48000), ('encoder', 'mkgolden.py')])
    out += tag(18, 0, meta)
    lines.append('tag=18 ts=0 kind=data codec=unknown header=0 key=0 cts=0 payload=-1')
    # SequenceStart (FrameType 1, PacketType 0), Metadata (PacketType 4, colorInfo), Opus SequenceStart.
    out += tag(9, 0, bytes([0x90]) + b'hvc1' + ex['video'])
    lines.append(f'tag=9 ts=0 kind=video codec=hevc header=1 key=0 cts=0 payload={len(ex["video"])}')
    color = amf_str('colorInfo') + b'\x03\x00\x00\x09'
    out += tag(9, 0, bytes([0x84]) + b'hvc1' + color)
    lines.append(f'tag=9 ts=0 kind=video codec=hevc header=0 key=0 cts=0 payload={len(color)} metadata=1')
    out += tag(8, 0, bytes([0x90]) + b'Opus' + ex['audio'])
    lines.append(f'tag=8 ts=0 kind=audio codec=opus header=1 key=0 cts=0 payload={len(ex["audio"])}')
    order = sorted(pkts, key=lambda p: (ms(p['dts_time']), p['codec_type'] != 'video'))
    vcount = 0
    last = 0
    for p in order:
        data = unhexdump(p['data'])
        ts = ms(p['dts_time']) + shift
        if p['codec_type'] == 'audio':
            out += tag(8, ts, bytes([0x91]) + b'Opus' + data)
            lines.append(f'tag=8 ts={ts} kind=audio codec=opus header=0 key=0 cts=0 payload={len(data)}')
            continue
        last = max(last, ts)
        key = 'K' in p['flags']
        ft = 1 if key else 2
        cts = ms(p['pts_time']) - ms(p['dts_time'])
        vcount += 1
        if vcount == 3:
            # ModEx TimestampOffsetNano (size-1 = 2, UI24 nanoseconds), then CodedFrames.
            body = bytes([0x80 | ft << 4 | 7, 2]) + (500000).to_bytes(3, 'big') + bytes([0 << 4 | 1]) + b'hvc1' + cts.to_bytes(3, 'big', signed=True) + data
        elif cts != 0:
            body = bytes([0x80 | ft << 4 | 1]) + b'hvc1' + cts.to_bytes(3, 'big', signed=True) + data
        else:
            body = bytes([0x80 | ft << 4 | 3]) + b'hvc1' + data
        out += tag(9, ts, body)
        lines.append(f'tag=9 ts={ts} kind=video codec=hevc header=0 key={int(key)} cts={cts} payload={len(data)}')
    out += tag(9, last, bytes([0x92]) + b'hvc1')
    lines.append(f'tag=9 ts={last} kind=video codec=hevc header=0 key=0 cts=0 payload=0')
    open('hevc_opus_ertmp.flv', 'wb').write(out)
    open('hevc_opus_ertmp.expect', 'w').write('\n'.join(lines) + '\n')

def hevc_legacy12(ex, pkts, shift):
    out = b'FLV\x01' + bytes([1]) + (9).to_bytes(4, 'big') + b'\0\0\0\0'
    out += tag(9, 0, bytes([0x1C, 0, 0, 0, 0]) + ex['video'])
    lines = [f'tag=9 ts=0 kind=video codec=hevc header=1 key=0 cts=0 payload={len(ex["video"])}']
    last = 0
    for p in pkts:
        if p['codec_type'] != 'video':
            continue
        data = unhexdump(p['data'])
        ts = ms(p['dts_time']) + shift
        last = max(last, ts)
        key = 'K' in p['flags']
        cts = ms(p['pts_time']) - ms(p['dts_time'])
        out += tag(9, ts, bytes([(1 if key else 2) << 4 | 12, 1]) + cts.to_bytes(3, 'big', signed=True) + data)
        lines.append(f'tag=9 ts={ts} kind=video codec=hevc header=0 key={int(key)} cts={cts} payload={len(data)}')
    out += tag(9, last, bytes([0x1C, 2, 0, 0, 0]))
    lines.append(f'tag=9 ts={last} kind=video codec=hevc header=0 key=0 cts=0 payload=0')
    open('hevc_legacy12.flv', 'wb').write(out)
    open('hevc_legacy12.expect', 'w').write('\n'.join(lines) + '\n')

if __name__ == '__main__':
    h264_aac()
    ex, pkts, shift = hevc_source()
    hevc_opus_ertmp(ex, pkts, shift)
    hevc_legacy12(ex, pkts, shift)
