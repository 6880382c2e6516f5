package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat; Linux
// fixes it at 100 on every architecture Go supports.
const clockTicks = 100

// ProcSample is the CPU time and resident memory of a set of processes.
type ProcSample struct {
	CPU time.Duration // user + system, summed over the processes
	RSS int64         // bytes, summed
}

// ReadProc samples /proc for the given pids (self when pid is 0).
func ReadProc(pids []int) (ProcSample, error) {
	var s ProcSample
	for _, pid := range pids {
		dir := "/proc/self"
		if pid != 0 {
			dir = "/proc/" + strconv.Itoa(pid)
		}
		stat, err := os.ReadFile(dir + "/stat")
		if err != nil {
			return s, err
		}
		// Fields after the parenthesised comm (which may hold spaces):
		// state is field 3, utime 14, stime 15, rss 24 (proc(5)).
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			return s, fmt.Errorf("bench: %s/stat: no comm", dir)
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 22 {
			return s, fmt.Errorf("bench: %s/stat: %d fields, want at least 24", dir, len(f)+2)
		}
		ut, err1 := strconv.ParseInt(f[11], 10, 64)
		stt, err2 := strconv.ParseInt(f[12], 10, 64)
		rss, err3 := strconv.ParseInt(f[21], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return s, fmt.Errorf("bench: %s/stat: bad utime/stime/rss", dir)
		}
		s.CPU += time.Duration(ut+stt) * time.Second / clockTicks
		s.RSS += rss * int64(os.Getpagesize())
	}
	return s, nil
}

// LoadAvg returns the 1-minute load average, or -1 if unknown.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// MachineCPU returns the total busy and total jiffies of all CPUs from
// /proc/stat, to report how loaded the machine was during a window.
func MachineCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, x := range f[1:] {
		v, _ := strconv.ParseInt(x, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}
