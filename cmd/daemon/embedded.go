package daemon

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"smppbridge/conf"
	"smppbridge/testharness/smsc"
)

// Demo identities of the embedded default.
const (
	DemoAccount     = "9900000"
	DemoApplication = "93de2206-9669-4e07-948d-329f4b722ee2"
	DemoNumber      = "+15550001111"
	DemoUsername    = "demo"
	DemoAdminUser   = "admin"
)

// Demo is what the embedded default's banner shows: passwords generated
// afresh at every start.
type Demo struct {
	Password      string // of DemoUsername, the API credential
	AdminPassword string // of DemoAdminUser on the admin listener
}

func randomPassword() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// embeddedTOML is the configuration used without -config: loopback
// listeners, a bbolt file in the working directory and the simulator as
// carrier "sim", fast enough for load tests.
const embeddedTOML = `
[http]
listen = "127.0.0.1:8080"
[admin]
listen = "127.0.0.1:8081"
[store]
path = "smppbridge.db"
[[carrier]]
name = "sim"
address = "127.0.0.1:2775" # replaced by the in-process simulator's address
system_id = "bridge"
password = "secret"
binds = 4
window = 100
segments_per_second = 50000
queue_seconds = 900
routes = ["+"]
[[account]]
id = "9900000"
  [[account.credential]]
  username = "demo"
  password = "%s"
  [[account.application]]
  id = "93de2206-9669-4e07-948d-329f4b722ee2"
  callback_url = "http://127.0.0.1:9000/callbacks"
  inbound_callback_url = "http://127.0.0.1:9000/inbound"
  numbers = ["+15550001111"]
`

// Embedded returns options for the embedded default, with fresh random
// API and admin passwords (returned for the banner).
func Embedded() (Options, Demo, error) {
	demo := Demo{Password: randomPassword(), AdminPassword: randomPassword()}
	cfg, err := conf.Parse([]byte(fmt.Sprintf(embeddedTOML, demo.Password)))
	if err != nil {
		return Options{}, Demo{}, fmt.Errorf("embedded configuration: %w", err)
	}
	hash, err := conf.HashPassword(demo.AdminPassword)
	if err != nil {
		return Options{}, Demo{}, fmt.Errorf("embedded configuration: %w", err)
	}
	cfg.Admin.Username, cfg.Admin.PasswordHash = DemoAdminUser, hash
	return Options{
		Config:            cfg,
		Simulator:         &smsc.Config{SMPPAddr: "127.0.0.1:0", KeepMessages: 10000},
		SimulatorCarriers: []string{"sim"},
	}, demo, nil
}

// DemoBanner is what the embedded default prints at start: who to be and
// a curl line that sends a message.
func DemoBanner(httpAddr, adminAddr string, demo Demo) string {
	password := demo.Password
	var b strings.Builder
	fmt.Fprintf(&b, "\nsmppbridge is running on its embedded default (simulator carrier \"sim\").\n")
	fmt.Fprintf(&b, "  account:     %s\n  application: %s\n  number:      %s\n  credentials: %s / %s\n",
		DemoAccount, DemoApplication, DemoNumber, DemoUsername, password)
	fmt.Fprintf(&b, "  admin:       %s / %s on http://%s (/healthz, /readyz, /metrics, /v1/...)\n\n",
		DemoAdminUser, demo.AdminPassword, adminAddr)
	fmt.Fprintf(&b, "Send a message:\n  curl -s -u '%s:%s' -H 'Content-Type: application/json' \\\n", DemoUsername, password)
	fmt.Fprintf(&b, "    -d '{\"applicationId\":\"%s\",\"to\":[\"+15550002222\"],\"from\":\"%s\",\"text\":\"Hello from smppbridge\"}' \\\n", DemoApplication, DemoNumber)
	fmt.Fprintf(&b, "    http://%s/api/v2/users/%s/messages\n\n", httpAddr, DemoAccount)
	fmt.Fprintf(&b, "Manage it:\n  SMPPBRIDGE_ADMIN_PASSWORD='%s' go run ./cmd/smppbridge admin -url http://%s -user %s carrier list\n\n",
		demo.AdminPassword, adminAddr, DemoAdminUser)
	return b.String()
}
