package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

const adminUsage = `smppbridge admin - manage a running smppbridge through its admin API

Usage:
  smppbridge admin [-url URL] [-user USER] <object> <verb> [flags] [arguments]

The admin password comes from $SMPPBRIDGE_ADMIN_PASSWORD (or -password,
which other users of the machine can see in the process list); -url and
-user default to $SMPPBRIDGE_ADMIN_URL and $SMPPBRIDGE_ADMIN_USER.

  account list
  account get ACCOUNT
  account create ACCOUNT [-countries 1,44] [-disabled]
  account update ACCOUNT [-countries 1,44 | -all-countries] [-disabled=true|false]
  account delete ACCOUNT
  app list ACCOUNT
  app get ACCOUNT APP
  app create ACCOUNT [-id APP] [-callback-url URL] [-inbound-callback-url URL]
                     [-callback-username U -callback-password P] [-receipt-events a,b]
  app update ACCOUNT APP [the same flags]
  app delete ACCOUNT APP
  number list [-account ACCOUNT] [-app APP]
  number get NUMBER
  number assign NUMBER APP [-class p2p|a2p|toll-free|short-code|alphanumeric] [-campaign ID]
                     (adds the number, or moves it from its current application)
  number release NUMBER
  credential list ACCOUNT
  credential create ACCOUNT [-username USER]   (prints the password, once)
  credential revoke ACCOUNT USER
  blocked list
  blocked add NUMBER [-direction from|to|both]
  blocked remove NUMBER
  optout list [-number NUMBER]
  optout add NUMBER SENDER
  optout remove NUMBER SENDER
  carrier list
  deadletter list [-after ID] [-limit N]   (callbacks given up after callbacks.retry_for)
  deadletter retry ID                      (send it again, as a new callback)
  deadletter delete ID

Answers are printed as JSON; errors go to stderr with exit status 1.
`

// adminClient calls the admin API.
type adminClient struct {
	base, user, pass string
	http             *http.Client
	stdout, stderr   io.Writer
}

func runAdmin(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("smppbridge admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, adminUsage); fs.PrintDefaults() }
	base := fs.String("url", envOr("SMPPBRIDGE_ADMIN_URL", "http://127.0.0.1:8081"), "admin listener `URL`")
	user := fs.String("user", os.Getenv("SMPPBRIDGE_ADMIN_USER"), "admin `username`")
	pass := fs.String("password", "", "admin `password` (prefer $SMPPBRIDGE_ADMIN_PASSWORD)")
	timeout := fs.Duration("timeout", 30*time.Second, "per request")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *pass == "" {
		*pass = os.Getenv("SMPPBRIDGE_ADMIN_PASSWORD")
	}
	c := &adminClient{base: strings.TrimSuffix(*base, "/"), user: *user, pass: *pass,
		http: &http.Client{Timeout: *timeout}, stdout: stdout, stderr: stderr}
	rest := fs.Args()
	if len(rest) < 2 {
		what := "an object and a verb, e.g. \"account list\""
		if len(rest) == 1 {
			what = fmt.Sprintf("a verb after %q", rest[0])
		}
		fmt.Fprintf(stderr, "smppbridge admin: missing %s\n\n", what)
		fs.Usage()
		return 2
	}
	if err := c.dispatch(rest[0], rest[1], rest[2:]); err != nil {
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintf(stderr, "smppbridge admin: %v\n\n%s", err, adminUsage)
			return 2
		}
		fmt.Fprintf(stderr, "smppbridge admin: %v\n", err)
		return 1
	}
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type usageError string

func (u usageError) Error() string { return string(u) }

// parse reads a command's flags (which may come before or after its
// positional arguments) and checks the number of positional arguments.
func parse(fs *flag.FlagSet, args []string, want int, names string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError(err.Error())
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != want {
		return nil, usageError(fmt.Sprintf("%s: want arguments %s", fs.Name(), names))
	}
	return pos, nil
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func p(s string) string { return url.PathEscape(s) }

func (c *adminClient) dispatch(object, verb string, args []string) error {
	fs := flag.NewFlagSet(object+" "+verb, flag.ContinueOnError)
	switch object + " " + verb {
	case "account list":
		if _, err := parse(fs, args, 0, ""); err != nil {
			return err
		}
		return c.do("GET", "/v1/accounts", nil)
	case "account get":
		a, err := parse(fs, args, 1, "ACCOUNT")
		if err != nil {
			return err
		}
		return c.do("GET", "/v1/accounts/"+p(a[0]), nil)
	case "account create", "account update":
		countries := fs.String("countries", "", "comma-separated country calling codes")
		all := fs.Bool("all-countries", false, "allow every country")
		disabled := fs.Bool("disabled", false, "refuse the account's credentials")
		a, err := parse(fs, args, 1, "ACCOUNT")
		if err != nil {
			return err
		}
		body := map[string]any{}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if set["countries"] {
			body["countries"] = splitList(*countries)
		}
		if *all {
			body["countries"] = []string{}
		}
		if set["disabled"] {
			body["disabled"] = *disabled
		}
		if verb == "create" {
			body["id"] = a[0]
			return c.do("POST", "/v1/accounts", body)
		}
		return c.do("PATCH", "/v1/accounts/"+p(a[0]), body)
	case "account delete":
		a, err := parse(fs, args, 1, "ACCOUNT")
		if err != nil {
			return err
		}
		return c.do("DELETE", "/v1/accounts/"+p(a[0]), nil)
	case "app list":
		a, err := parse(fs, args, 1, "ACCOUNT")
		if err != nil {
			return err
		}
		return c.do("GET", "/v1/accounts/"+p(a[0])+"/applications", nil)
	case "app get", "app delete":
		a, err := parse(fs, args, 2, "ACCOUNT APP")
		if err != nil {
			return err
		}
		method := map[string]string{"get": "GET", "delete": "DELETE"}[verb]
		return c.do(method, "/v1/accounts/"+p(a[0])+"/applications/"+p(a[1]), nil)
	case "app create", "app update":
		id := fs.String("id", "", "application id (create; default a new UUID)")
		strs := map[string]*string{}
		for _, name := range []string{"callback-url", "inbound-callback-url", "callback-username", "callback-password", "receipt-events"} {
			strs[name] = fs.String(name, "", name)
		}
		want, names := 1, "ACCOUNT"
		if verb == "update" {
			want, names = 2, "ACCOUNT APP"
		}
		a, err := parse(fs, args, want, names)
		if err != nil {
			return err
		}
		body := map[string]any{}
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "id":
				body["id"] = *id
			case "receipt-events":
				body["receiptEvents"] = splitList(f.Value.String())
			default:
				body[camel(f.Name)] = f.Value.String()
			}
		})
		if verb == "create" {
			return c.do("POST", "/v1/accounts/"+p(a[0])+"/applications", body)
		}
		return c.do("PATCH", "/v1/accounts/"+p(a[0])+"/applications/"+p(a[1]), body)
	case "number list":
		account := fs.String("account", "", "only this account's")
		app := fs.String("app", "", "only this application's")
		if _, err := parse(fs, args, 0, ""); err != nil {
			return err
		}
		q := url.Values{}
		if *account != "" {
			q.Set("accountId", *account)
		}
		if *app != "" {
			q.Set("applicationId", *app)
		}
		path := "/v1/numbers"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		return c.do("GET", path, nil)
	case "number get", "number release":
		a, err := parse(fs, args, 1, "NUMBER")
		if err != nil {
			return err
		}
		method := map[string]string{"get": "GET", "release": "DELETE"}[verb]
		return c.do(method, "/v1/numbers/"+p(a[0]), nil)
	case "number assign":
		class := fs.String("class", "", "number class (default: inferred)")
		campaign := fs.String("campaign", "", "A2P campaign id")
		a, err := parse(fs, args, 2, "NUMBER APP")
		if err != nil {
			return err
		}
		return c.do("PUT", "/v1/numbers/"+p(a[0]), map[string]any{"applicationId": a[1], "class": *class, "campaignId": *campaign})
	case "credential list":
		a, err := parse(fs, args, 1, "ACCOUNT")
		if err != nil {
			return err
		}
		return c.do("GET", "/v1/accounts/"+p(a[0])+"/credentials", nil)
	case "credential create":
		username := fs.String("username", "", "username (default generated)")
		a, err := parse(fs, args, 1, "ACCOUNT")
		if err != nil {
			return err
		}
		return c.do("POST", "/v1/accounts/"+p(a[0])+"/credentials", map[string]any{"username": *username})
	case "credential revoke":
		a, err := parse(fs, args, 2, "ACCOUNT USER")
		if err != nil {
			return err
		}
		return c.do("DELETE", "/v1/accounts/"+p(a[0])+"/credentials/"+p(a[1]), nil)
	case "blocked list":
		if _, err := parse(fs, args, 0, ""); err != nil {
			return err
		}
		return c.do("GET", "/v1/blocked", nil)
	case "blocked add":
		direction := fs.String("direction", "both", "from, to or both")
		a, err := parse(fs, args, 1, "NUMBER")
		if err != nil {
			return err
		}
		return c.do("PUT", "/v1/blocked/"+p(a[0]), map[string]any{"direction": *direction})
	case "blocked remove":
		a, err := parse(fs, args, 1, "NUMBER")
		if err != nil {
			return err
		}
		return c.do("DELETE", "/v1/blocked/"+p(a[0]), nil)
	case "optout list":
		number := fs.String("number", "", "only this number's")
		if _, err := parse(fs, args, 0, ""); err != nil {
			return err
		}
		path := "/v1/optouts"
		if *number != "" {
			path += "?number=" + url.QueryEscape(*number)
		}
		return c.do("GET", path, nil)
	case "optout add", "optout remove":
		a, err := parse(fs, args, 2, "NUMBER SENDER")
		if err != nil {
			return err
		}
		method := map[string]string{"add": "PUT", "remove": "DELETE"}[verb]
		return c.do(method, "/v1/optouts/"+p(a[0])+"/"+p(a[1]), nil)
	case "carrier list":
		if _, err := parse(fs, args, 0, ""); err != nil {
			return err
		}
		return c.do("GET", "/v1/carriers", nil)
	case "deadletter list":
		after := fs.String("after", "", "the last id of the previous page")
		limit := fs.String("limit", "", "at most this many (1-1000; default 100)")
		if _, err := parse(fs, args, 0, ""); err != nil {
			return err
		}
		q := url.Values{}
		if *after != "" {
			q.Set("after", *after)
		}
		if *limit != "" {
			q.Set("limit", *limit)
		}
		path := "/v1/callbacks/dead"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		return c.do("GET", path, nil)
	case "deadletter retry":
		a, err := parse(fs, args, 1, "ID")
		if err != nil {
			return err
		}
		return c.do("POST", "/v1/callbacks/dead/"+p(a[0])+"/retry", nil)
	case "deadletter delete":
		a, err := parse(fs, args, 1, "ID")
		if err != nil {
			return err
		}
		return c.do("DELETE", "/v1/callbacks/dead/"+p(a[0]), nil)
	}
	return usageError(fmt.Sprintf("unknown command %q", object+" "+verb))
}

// camel turns a flag name into its JSON field: callback-url -> callbackUrl.
func camel(s string) string {
	parts := strings.Split(s, "-")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

// do sends one request and prints the JSON answer (stdout) or the error
// (stderr, as an error return).
func (c *adminClient) do(method, path string, body any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Type        string `json:"type"`
			Description string `json:"description"`
			FieldErrors []struct {
				FieldName   string `json:"fieldName"`
				Description string `json:"description"`
			} `json:"fieldErrors"`
		}
		if json.Unmarshal(out, &e) != nil || e.Description == "" {
			return fmt.Errorf("%s %s: %s", method, path, resp.Status)
		}
		msg := fmt.Sprintf("%s (%d %s)", e.Description, resp.StatusCode, e.Type)
		for _, f := range e.FieldErrors {
			msg += fmt.Sprintf("\n  %s: %s", f.FieldName, f.Description)
		}
		return errors.New(msg)
	}
	if len(bytes.TrimSpace(out)) == 0 {
		fmt.Fprintln(c.stdout, "ok")
		return nil
	}
	c.stdout.Write(out)
	if !bytes.HasSuffix(out, []byte("\n")) {
		fmt.Fprintln(c.stdout)
	}
	return nil
}
