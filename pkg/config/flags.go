package config

import "github.com/spf13/pflag"

// FlagConfig is the name of the flag that holds the config file path.
const FlagConfig = "config"

// flagKeys maps the command-line flags that override a key.
var flagKeys = []struct{ name, key, usage string }{
	{"rtmp-listen", "rtmp.listen", "RTMP listen address (host:port)"},
	{"http-listen", "http.listen", "HTTP listen address (host:port)"},
	{"log-level", "log.level", "log level: debug, info, warn, error"},
}

// RegisterFlags adds Ripple's flags to fs: -c/--config and one flag per
// overridable key. Load applies only the flags that were set, so a flag's
// displayed default never hides a file or environment value.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.StringP(FlagConfig, "c", "", "YAML config file (optional; built-in defaults otherwise)")
	for _, f := range flagKeys {
		fs.String(f.name, defaultString(f.key), f.usage+" (env "+EnvName(f.key)+")")
	}
}
