package auth

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// IPList is a set of CIDR prefixes. The zero value is empty.
type IPList struct {
	prefixes []netip.Prefix
}

// ParseIPList parses CIDRs ("10.0.0.0/8", "2001:db8::/32") and bare
// addresses ("192.0.2.7" = /32). IPv4-mapped IPv6 addresses are unmapped, so
// "::ffff:10.1.2.3" matches 10.0.0.0/8.
func ParseIPList(entries []string) (IPList, error) {
	var l IPList
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		p, err := parsePrefix(e)
		if err != nil {
			return IPList{}, err
		}
		l.prefixes = append(l.prefixes, p)
	}
	return l, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("auth: %q is not a CIDR prefix", s)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("auth: %q is not an IP address or CIDR prefix", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// SplitList splits a config value listing entries separated by commas
// and/or whitespace.
func SplitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// Empty reports whether the list has no entries.
func (l IPList) Empty() bool { return len(l.prefixes) == 0 }

// Len is the number of prefixes.
func (l IPList) Len() int { return len(l.prefixes) }

// Contains reports whether a is in one of the prefixes.
func (l IPList) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range l.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseAddr extracts the IP of "ip", "ip:port", "[ipv6]:port" or
// "ipv6%zone"; the zone is dropped. ok is false for anything else (a Unix
// socket path, an empty string).
func ParseAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.WithZone("").Unmap(), true
		}
	}
	return netip.Addr{}, false
}
