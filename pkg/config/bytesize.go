package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a size in bytes. In the file and the environment it is an
// integer ("8388608") or a number with a unit ("8MiB", "2.5MB"); see
// ParseByteSize.
type ByteSize int64

// Size units: binary (IEC 80000-13) and decimal (SI) prefixes.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
	KB  ByteSize = 1e3
	MB  ByteSize = 1e6
	GB  ByteSize = 1e9
)

// units lists the binary units first: String uses them.
var units = []struct {
	name string
	size ByteSize
}{
	{"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB},
	{"GB", GB}, {"MB", MB}, {"KB", KB},
	{"B", 1},
}

// maxFracDigits bounds the fractional digits ParseByteSize reads, so that
// scaling them stays within int64.
const maxFracDigits = 9

// ParseByteSize parses a non-negative size: an integer number of bytes, or a
// number (optionally with a fraction) followed by B, KiB, MiB, GiB (powers of
// 1024) or KB, MB, GB (powers of 1000), case-insensitive, optionally
// separated by a space. The result must be a whole number of bytes.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	num := strings.TrimRight(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
	unitName := t[len(num):]
	num = strings.TrimSpace(num)
	unit := ByteSize(1)
	if unitName != "" {
		found := false
		for _, u := range units {
			if strings.EqualFold(u.name, unitName) {
				unit, found = u.size, true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, KiB, MiB, GiB, KB, MB, GB)", s, unitName)
		}
	}
	whole, frac, hasFrac := strings.Cut(num, ".")
	if whole == "" || !allDigits(whole) || (hasFrac && (frac == "" || !allDigits(frac))) {
		return 0, fmt.Errorf("invalid size %q: want a non-negative number of bytes, optionally with a unit such as MiB", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > math.MaxInt64/int64(unit) {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	total := w * int64(unit)
	frac = strings.TrimRight(frac, "0")
	if frac == "" {
		return ByteSize(total), nil
	}
	if len(frac) > maxFracDigits {
		return 0, fmt.Errorf("invalid size %q: more than %d fractional digits", s, maxFracDigits)
	}
	f, _ := strconv.ParseInt(frac, 10, 64) // digits only, at most 9: cannot fail
	scale := int64(math.Pow10(len(frac)))
	// f/scale < 1, so f*unit/scale < unit; f*unit fits: f < 1e9, unit <= 1e9·1.08.
	part := f * int64(unit)
	if part%scale != 0 {
		return 0, fmt.Errorf("invalid size %q: not a whole number of bytes", s)
	}
	if total > math.MaxInt64-part/scale {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return ByteSize(total + part/scale), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats b with the largest binary unit that divides it exactly
// ("8MiB"), else as a plain number of bytes ("2500000").
func (b ByteSize) String() string {
	for _, u := range units[:3] {
		if b != 0 && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}
