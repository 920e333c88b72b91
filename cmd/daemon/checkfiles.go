package daemon

import (
	"crypto/tls"
	"errors"
	"fmt"

	"smppbridge/conf"
)

// CheckFiles reads the files cfg names — the HTTPS key pair, each TLS
// carrier's CA bundle and client key pair — as a start would, and reports
// every one that cannot be used, each with its key path (prefixed with
// "file: " when file is set). conf.Load checks the file's own content;
// without this, -check-config (and the unit's ExecStartPre) would pass a
// configuration whose start then fails, after a restart stopped the
// running daemon.
func CheckFiles(cfg *conf.Config, file string) error {
	prefix := ""
	if file != "" {
		prefix = file + ": "
	}
	var errs []error
	if h := cfg.HTTP; h.TLSCertFile != "" || h.TLSKeyFile != "" {
		if _, err := tls.LoadX509KeyPair(h.TLSCertFile, h.TLSKeyFile); err != nil {
			errs = append(errs, fmt.Errorf("%shttp.tls_cert_file, http.tls_key_file: %w", prefix, err))
		}
	}
	for i := range cfg.Carriers {
		c := &cfg.Carriers[i]
		if !c.TLS {
			continue
		}
		if _, err := carrierTLS(c); err != nil {
			errs = append(errs, fmt.Errorf("%scarrier[%d].%w", prefix, i, err))
		}
	}
	return errors.Join(errs...)
}
