// Package admin is the management API on the admin listener: accounts,
// applications, numbers, API credentials, blocked numbers, opt-outs and the
// carriers' live status, as JSON over net/http (it is low-rate and needs
// none of fasthttp's speed). The bridge does the work; this package maps
// HTTP onto its directory operations and renders views without secrets.
// docs/admin.md is the reference.
package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"smppbridge/bridge"
)

// Options configures the handler.
type Options struct {
	// Username and PasswordHash are the admin credentials. Without them
	// every management route is refused: the directory is never open.
	Username     string
	PasswordHash string
	// CheckPassword verifies a password against a stored hash.
	CheckPassword func(hash, password string) bool
	// Credentials, when set, replace the three fields above: credentials
	// shared with the admin listener's other endpoints and replaced by a
	// reload.
	Credentials *Credentials
	Logger      *slog.Logger
}

// maxBody bounds request bodies; directory entries are small.
const maxBody = 1 << 20

type handler struct {
	b     *bridge.Bridge
	opts  Options
	log   *slog.Logger
	creds *Credentials
}

// Handler serves the management routes under /v1/.
func Handler(b *bridge.Bridge, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	creds := opts.Credentials
	if creds == nil {
		creds = NewCredentials(opts.Username, opts.PasswordHash, opts.CheckPassword)
	}
	h := &handler{b: b, opts: opts, log: opts.Logger, creds: creds}
	mux := http.NewServeMux()
	for _, r := range h.routes() {
		mux.HandleFunc(r.pattern, r.fn)
	}
	// The catch-all takes every request no route matches, so ServeMux's own
	// 405 never happens: a known path with another method is answered here.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method-not-allowed",
				"Request method '"+truncate(r.Method, 32)+"' is not supported on "+truncate(r.URL.Path, 256))
			return
		}
		writeError(w, http.StatusNotFound, "object-not-found", "No admin route "+truncate(r.Method, 32)+" "+truncate(r.URL.Path, 256))
	})
	return h.auth(mux)
}

// routeMethods are the methods the management routes use.
var routeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowedMethods lists the methods a route serves r's path with; none for an
// unknown path. HEAD comes with GET, as ServeMux serves it.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range routeMethods {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	return allow
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

type route struct {
	pattern string
	fn      http.HandlerFunc
}

// Routes lists the management route patterns (tests check each is guarded).
func Routes() []string {
	var out []string
	for _, r := range (&handler{}).routes() {
		out = append(out, r.pattern)
	}
	return out
}

func (h *handler) routes() []route {
	return []route{
		{"GET /v1/accounts", h.listAccounts},
		{"POST /v1/accounts", h.createAccount},
		{"GET /v1/accounts/{account}", h.getAccount},
		{"PATCH /v1/accounts/{account}", h.patchAccount},
		{"DELETE /v1/accounts/{account}", h.deleteAccount},
		{"GET /v1/accounts/{account}/applications", h.listApplications},
		{"POST /v1/accounts/{account}/applications", h.createApplication},
		{"GET /v1/accounts/{account}/applications/{app}", h.getApplication},
		{"PATCH /v1/accounts/{account}/applications/{app}", h.patchApplication},
		{"DELETE /v1/accounts/{account}/applications/{app}", h.deleteApplication},
		{"GET /v1/accounts/{account}/credentials", h.listCredentials},
		{"POST /v1/accounts/{account}/credentials", h.createCredential},
		{"DELETE /v1/accounts/{account}/credentials/{username}", h.revokeCredential},
		{"GET /v1/numbers", h.listNumbers},
		{"GET /v1/numbers/{number}", h.getNumber},
		{"PUT /v1/numbers/{number}", h.putNumber},
		{"DELETE /v1/numbers/{number}", h.releaseNumber},
		{"GET /v1/blocked", h.listBlocked},
		{"PUT /v1/blocked/{number}", h.block},
		{"DELETE /v1/blocked/{number}", h.unblock},
		{"GET /v1/optouts", h.listOptOuts},
		{"PUT /v1/optouts/{number}/{sender}", h.optOut},
		{"DELETE /v1/optouts/{number}/{sender}", h.optIn},
		{"GET /v1/carriers", h.carriers},
		{"GET /v1/callbacks/dead", h.listDeadCallbacks},
		{"POST /v1/callbacks/dead/{id}/retry", h.retryDeadCallback},
		{"DELETE /v1/callbacks/dead/{id}", h.deleteDeadCallback},
	}
}

// auth requires the admin credentials on every route.
func (h *handler) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !h.creds.Configured():
			writeError(w, http.StatusUnauthorized, "unauthorized",
				"The admin API is disabled: configure admin.username and admin.password_hash")
		case !h.creds.Verify(r):
			w.Header().Set("WWW-Authenticate", `Basic realm="smppbridge admin"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "Authentication Failed")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// Views: what the API shows. Hashes and callback passwords never leave.

type accountView struct {
	ID           string            `json:"id"`
	Disabled     bool              `json:"disabled"`
	Countries    []string          `json:"countries"`
	Origin       string            `json:"origin"`
	Applications []applicationView `json:"applications"`
	Credentials  []credentialView  `json:"credentials"`
}

type applicationView struct {
	ID                  string       `json:"id"`
	AccountID           string       `json:"accountId"`
	CallbackURL         string       `json:"callbackUrl,omitempty"`
	InboundCallbackURL  string       `json:"inboundCallbackUrl,omitempty"`
	CallbackUsername    string       `json:"callbackUsername,omitempty"`
	CallbackPasswordSet bool         `json:"callbackPasswordSet"`
	ReceiptEvents       []string     `json:"receiptEvents"`
	Numbers             []numberView `json:"numbers"`
	Origin              string       `json:"origin"`
}

type numberView struct {
	Number        string `json:"number"`
	Class         string `json:"class"`
	Product       string `json:"product"`
	CampaignID    string `json:"campaignId,omitempty"`
	ApplicationID string `json:"applicationId,omitempty"`
	AccountID     string `json:"accountId,omitempty"`
	Origin        string `json:"origin"`
}

type credentialView struct {
	Username string     `json:"username"`
	Created  *time.Time `json:"created,omitempty"`
	Origin   string     `json:"origin"`
	// Password is shown once, in the answer to the creation.
	Password string `json:"password,omitempty"`
}

func viewAccount(a bridge.Account) accountView {
	v := accountView{ID: a.ID, Disabled: a.Disabled, Countries: nonNil(a.Countries), Origin: a.Origin,
		Applications: []applicationView{}, Credentials: []credentialView{}}
	for _, ap := range a.Applications {
		v.Applications = append(v.Applications, viewApplication(a.ID, ap))
	}
	for _, c := range a.Credentials {
		v.Credentials = append(v.Credentials, viewCredential(c))
	}
	return v
}

func viewApplication(accountID string, ap bridge.Application) applicationView {
	v := applicationView{ID: ap.ID, AccountID: accountID, CallbackURL: ap.CallbackURL, InboundCallbackURL: ap.InboundCallbackURL,
		CallbackUsername: ap.CallbackUsername, CallbackPasswordSet: ap.CallbackPassword != "",
		ReceiptEvents: ap.ReceiptEvents, Numbers: []numberView{}, Origin: ap.Origin}
	if v.ReceiptEvents == nil {
		v.ReceiptEvents = []string{"message-delivered", "message-failed"}
	}
	for _, n := range ap.Numbers {
		v.Numbers = append(v.Numbers, viewNumber(n, "", ""))
	}
	return v
}

func viewNumber(n bridge.Number, appID, accountID string) numberView {
	return numberView{Number: n.Number, Class: n.Class, Product: bridge.Product(n.Class), CampaignID: n.CampaignID,
		ApplicationID: appID, AccountID: accountID, Origin: n.Origin}
}

func viewCredential(c bridge.Credential) credentialView {
	v := credentialView{Username: c.Username, Origin: c.Origin}
	if !c.Created.IsZero() {
		t := c.Created
		v.Created = &t
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Handlers.

func (h *handler) listAccounts(w http.ResponseWriter, r *http.Request) {
	out := []accountView{}
	for _, a := range h.b.Accounts() {
		out = append(out, viewAccount(a))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) getAccount(w http.ResponseWriter, r *http.Request) {
	a, err := h.b.Account(r.PathValue("account"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewAccount(a))
}

type accountBody struct {
	ID        string    `json:"id"`
	Disabled  *bool     `json:"disabled"`
	Countries *[]string `json:"countries"`
}

func (h *handler) createAccount(w http.ResponseWriter, r *http.Request) {
	var body accountBody
	if !h.decode(w, r, &body) {
		return
	}
	a := bridge.Account{ID: body.ID}
	if body.Disabled != nil {
		a.Disabled = *body.Disabled
	}
	if body.Countries != nil {
		a.Countries = *body.Countries
	}
	if err := h.b.CreateAccount(a); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, "account created", "account", a.ID)
	created, err := h.b.Account(a.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewAccount(created))
}

func (h *handler) patchAccount(w http.ResponseWriter, r *http.Request) {
	var body accountBody
	if !h.decode(w, r, &body) {
		return
	}
	id := r.PathValue("account")
	if body.ID != "" && body.ID != id {
		writeValidation(w, []bridge.FieldError{{FieldName: "id", Description: "an account id cannot change"}})
		return
	}
	a, err := h.b.UpdateAccount(id, func(a *bridge.Account) {
		if body.Disabled != nil {
			a.Disabled = *body.Disabled
		}
		if body.Countries != nil {
			a.Countries = *body.Countries
		}
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, "account changed", "account", id, "disabled", a.Disabled)
	writeJSON(w, http.StatusOK, viewAccount(a))
}

func (h *handler) deleteAccount(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("account")
	if err := h.b.DeleteAccount(id); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, "account deleted", "account", id)
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) listApplications(w http.ResponseWriter, r *http.Request) {
	a, err := h.b.Account(r.PathValue("account"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewAccount(a).Applications)
}

func (h *handler) getApplication(w http.ResponseWriter, r *http.Request) {
	a, err := h.b.Account(r.PathValue("account"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, ap := range a.Applications {
		if ap.ID == r.PathValue("app") {
			writeJSON(w, http.StatusOK, viewApplication(a.ID, ap))
			return
		}
	}
	h.fail(w, r, fmt.Errorf("%w: application %s in account %s", bridge.ErrNotFound, r.PathValue("app"), a.ID))
}

type applicationBody struct {
	ID                 string    `json:"id"`
	CallbackURL        *string   `json:"callbackUrl"`
	InboundCallbackURL *string   `json:"inboundCallbackUrl"`
	CallbackUsername   *string   `json:"callbackUsername"`
	CallbackPassword   *string   `json:"callbackPassword"`
	ReceiptEvents      *[]string `json:"receiptEvents"`
}

func (body *applicationBody) apply(ap *bridge.Application) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&ap.CallbackURL, body.CallbackURL)
	set(&ap.InboundCallbackURL, body.InboundCallbackURL)
	set(&ap.CallbackUsername, body.CallbackUsername)
	set(&ap.CallbackPassword, body.CallbackPassword)
	if body.ReceiptEvents != nil {
		ap.ReceiptEvents = nonNil(*body.ReceiptEvents)
	}
}

func (h *handler) createApplication(w http.ResponseWriter, r *http.Request) {
	var body applicationBody
	if !h.decode(w, r, &body) {
		return
	}
	ap := bridge.Application{ID: body.ID}
	body.apply(&ap)
	account := r.PathValue("account")
	created, err := h.b.CreateApplication(account, ap)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, "application created", "account", account, "application", created.ID)
	writeJSON(w, http.StatusCreated, viewApplication(account, created))
}

func (h *handler) patchApplication(w http.ResponseWriter, r *http.Request) {
	var body applicationBody
	if !h.decode(w, r, &body) {
		return
	}
	account, appID := r.PathValue("account"), r.PathValue("app")
	if body.ID != "" && body.ID != appID {
		writeValidation(w, []bridge.FieldError{{FieldName: "id", Description: "an application id cannot change"}})
		return
	}
	ap, err := h.b.UpdateApplication(account, appID, body.apply)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, "application changed", "account", account, "application", appID)
	writeJSON(w, http.StatusOK, viewApplication(account, ap))
}

func (h *handler) deleteApplication(w http.ResponseWriter, r *http.Request) {
	account, appID := r.PathValue("account"), r.PathValue("app")
	if err := h.b.DeleteApplication(account, appID); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, "application deleted", "account", account, "application", appID)
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) listCredentials(w http.ResponseWriter, r *http.Request) {
	a, err := h.b.Account(r.PathValue("account"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewAccount(a).Credentials)
}

func (h *handler) createCredential(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Username string `json:"username"`
	}
	if !h.decode(w, r, &body) {
		return
	}
	account := r.PathValue("account")
	c, secret, err := h.b.CreateCredential(account, body.Username)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, "credential created", "account", account, "username", c.Username)
	v := viewCredential(c)
	v.Password = secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, v)
}

func (h *handler) revokeCredential(w http.ResponseWriter, r *http.Request) {
	account, username := r.PathValue("account"), r.PathValue("username")
	if err := h.b.RevokeCredential(account, username); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, "credential revoked", "account", account, "username", username)
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) listNumbers(w http.ResponseWriter, r *http.Request) {
	app, account := r.URL.Query().Get("applicationId"), r.URL.Query().Get("accountId")
	out := []numberView{}
	for _, n := range h.b.Numbers() {
		if (app == "" || n.ApplicationID == app) && (account == "" || n.AccountID == account) {
			out = append(out, viewNumber(n.Number, n.ApplicationID, n.AccountID))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) getNumber(w http.ResponseWriter, r *http.Request) {
	number := r.PathValue("number")
	for _, n := range h.b.Numbers() {
		if n.Number.Number == number {
			writeJSON(w, http.StatusOK, viewNumber(n.Number, n.ApplicationID, n.AccountID))
			return
		}
	}
	h.fail(w, r, fmt.Errorf("%w: number %s", bridge.ErrNotFound, number))
}

func (h *handler) putNumber(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ApplicationID string `json:"applicationId"`
		Class         string `json:"class"`
		CampaignID    string `json:"campaignId"`
	}
	if !h.decode(w, r, &body) {
		return
	}
	if body.ApplicationID == "" {
		writeValidation(w, []bridge.FieldError{{FieldName: "applicationId", Description: "applicationId is required"}})
		return
	}
	n, err := h.b.AssignNumber(bridge.Number{Number: r.PathValue("number"), Class: body.Class, CampaignID: body.CampaignID}, body.ApplicationID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, "number assigned", "number", n.Number.Number, "application", n.ApplicationID, "class", n.Class)
	writeJSON(w, http.StatusOK, viewNumber(n.Number, n.ApplicationID, n.AccountID))
}

func (h *handler) releaseNumber(w http.ResponseWriter, r *http.Request) {
	number := r.PathValue("number")
	if err := h.b.ReleaseNumber(number); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, "number released", "number", number)
	w.WriteHeader(http.StatusNoContent)
}

type blockedView struct {
	Number    string `json:"number"`
	Direction string `json:"direction"`
}

func (h *handler) listBlocked(w http.ResponseWriter, r *http.Request) {
	out := []blockedView{}
	for n, d := range h.b.Blocked() {
		out = append(out, blockedView{n, d})
	}
	slices.SortFunc(out, func(a, b blockedView) int { return strings.Compare(a.Number, b.Number) })
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) block(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Direction string `json:"direction"`
	}
	if !h.decode(w, r, &body) {
		return
	}
	number := r.PathValue("number")
	if body.Direction == "" {
		body.Direction = bridge.BlockBoth
	}
	if err := h.b.Block(number, body.Direction); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, "number blocked", "number", number, "direction", body.Direction)
	writeJSON(w, http.StatusOK, blockedView{number, body.Direction})
}

func (h *handler) unblock(w http.ResponseWriter, r *http.Request) {
	number := r.PathValue("number")
	if err := h.b.Unblock(number); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, "number unblocked", "number", number)
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) listOptOuts(w http.ResponseWriter, r *http.Request) {
	out := h.b.OptOuts(r.URL.Query().Get("number"))
	if out == nil {
		out = []bridge.OptOut{}
	}
	slices.SortFunc(out, func(a, b bridge.OptOut) int {
		return strings.Compare(a.Number+"|"+a.Sender, b.Number+"|"+b.Sender)
	})
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) optOut(w http.ResponseWriter, r *http.Request) {
	h.setOptOut(w, r, true)
}

func (h *handler) optIn(w http.ResponseWriter, r *http.Request) {
	h.setOptOut(w, r, false)
}

func (h *handler) setOptOut(w http.ResponseWriter, r *http.Request, out bool) {
	number, sender := r.PathValue("number"), r.PathValue("sender")
	var fe []bridge.FieldError
	for _, f := range []struct{ name, v string }{{"number", number}, {"sender", sender}} {
		if f.v == "" || len(f.v) > 32 || strings.ContainsAny(f.v, "| ") {
			fe = append(fe, bridge.FieldError{FieldName: f.name, Description: fmt.Sprintf("'%s' is not a number", f.v)})
		}
	}
	if len(fe) > 0 {
		writeValidation(w, fe)
		return
	}
	if err := h.b.SetOptOut(number, sender, out); err != nil {
		h.fail(w, r, fmt.Errorf("%w: %w", bridge.ErrStore, err))
		return
	}
	h.audit(r, "opt-out changed", "number", number, "sender", sender, "opted_out", out)
	if !out {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, bridge.OptOut{Number: number, Sender: sender})
}

type carrierView struct {
	Name           string   `json:"name"`
	BindsUp        int      `json:"bindsUp"`
	Binds          int      `json:"binds"`
	QueueSegments  int      `json:"queueSegments"`
	QueueCapacity  int      `json:"queueCapacity"`
	QueueMessages  int      `json:"queueMessages"`
	Rate           float64  `json:"segmentsPerSecond"`
	Paused         bool     `json:"paused"`
	ThrottlePauses int64    `json:"throttlePauses"`
	Resends        int64    `json:"resends"`
	BindErrors     []string `json:"bindErrors,omitempty"`
}

func (h *handler) carriers(w http.ResponseWriter, r *http.Request) {
	out := []carrierView{}
	for _, c := range h.b.CarrierStatuses() {
		out = append(out, carrierView(c))
	}
	writeJSON(w, http.StatusOK, out)
}

// listDeadCallbacks pages through dead-lettered callbacks: ?after=ID
// (the last id of the previous page) and ?limit= (1–1000, default 100).
func (h *handler) listDeadCallbacks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var fe []bridge.FieldError
	after, limit := uint64(0), 100
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fe = append(fe, bridge.FieldError{FieldName: "after", Description: fmt.Sprintf("'%s' is not a callback id", v)})
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			fe = append(fe, bridge.FieldError{FieldName: "limit", Description: fmt.Sprintf("'%s' is not between 1 and 1000", v)})
		}
		limit = n
	}
	if len(fe) > 0 {
		writeValidation(w, fe)
		return
	}
	out, err := h.b.DeadCallbacks(after, limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) deadCallbackID(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		writeValidation(w, []bridge.FieldError{{FieldName: "id", Description: fmt.Sprintf("'%s' is not a callback id", r.PathValue("id"))}})
		return 0, false
	}
	return id, true
}

// retryDeadCallback sends a dead-lettered callback again as a new job.
func (h *handler) retryDeadCallback(w http.ResponseWriter, r *http.Request) {
	id, ok := h.deadCallbackID(w, r)
	if !ok {
		return
	}
	n, err := h.b.RequeueDeadCallbacks([]uint64{id})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if n == 0 {
		writeError(w, http.StatusNotFound, "object-not-found", fmt.Sprintf("No dead-lettered callback %d", id))
		return
	}
	h.audit(r, "dead-lettered callback requeued", "callback", id)
	writeJSON(w, http.StatusOK, map[string]int{"requeued": n})
}

func (h *handler) deleteDeadCallback(w http.ResponseWriter, r *http.Request) {
	id, ok := h.deadCallbackID(w, r)
	if !ok {
		return
	}
	if err := h.b.DeleteDeadCallbacks([]uint64{id}); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, "dead-lettered callback deleted", "callback", id)
	w.WriteHeader(http.StatusNoContent)
}

// audit logs a change with who made it; never a secret.
func (h *handler) audit(r *http.Request, msg string, args ...any) {
	u, _, _ := r.BasicAuth()
	h.log.Info(msg, append([]any{"admin", u}, args...)...)
}

// decode reads a JSON body strictly (unknown fields are errors); an empty
// body is an empty object.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); r.ContentLength != 0 && ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported-content-type",
			"Content type '"+ct+"' is not supported; use application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "request-validation", "The body is not valid JSON for this route: "+err.Error())
		return false
	}
	// One JSON value: anything after it (a second object) would be
	// silently ignored.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "request-validation", "The body is not valid JSON for this route: more than one JSON value")
		return false
	}
	return true
}

// fail maps bridge errors onto status codes and V2 error bodies.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var verr *bridge.ValidationError
	switch {
	case errors.As(err, &verr):
		writeValidation(w, verr.Fields)
	case errors.Is(err, bridge.ErrNotFound):
		writeError(w, http.StatusNotFound, "object-not-found", strings.TrimPrefix(err.Error(), "bridge: "))
	case errors.Is(err, bridge.ErrConflict):
		writeError(w, http.StatusConflict, "conflict", strings.TrimPrefix(err.Error(), "bridge: "))
	default:
		h.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal-server-error", "An internal error occurred; nothing was changed")
	}
}

type errorBody struct {
	Type        string       `json:"type"`
	Description string       `json:"description"`
	FieldErrors []fieldError `json:"fieldErrors,omitempty"`
}

type fieldError struct {
	FieldName   string `json:"fieldName"`
	Description string `json:"description"`
}

func writeValidation(w http.ResponseWriter, fields []bridge.FieldError) {
	body := errorBody{Type: "request-validation", Description: "Your request could not be accepted"}
	for _, f := range fields {
		body.FieldErrors = append(body.FieldErrors, fieldError(f))
	}
	writeJSON(w, http.StatusBadRequest, body)
}

func writeError(w http.ResponseWriter, status int, typ, desc string) {
	writeJSON(w, status, errorBody{Type: typ, Description: desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
