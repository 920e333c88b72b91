package smsc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Handler returns the JSON control API:
//
//	GET  /stats       counters, in total and per account
//	GET  /messages    received messages, decoded (?to= ?from= ?system_id= ?limit=)
//	GET  /binds       bound connections
//	POST /mo          inject an inbound message (body: MO)
//	GET  /behaviour   the behaviour in force
//	PUT  /behaviour   change it: fields present in the body replace the current ones
//	POST /unbind      unbind ?system_id= (all when absent)
//	POST /drop        drop connections of ?system_id= (all when absent)
//	POST /reset       forget messages and counters, restore the configured behaviour
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Stats()) })
	mux.HandleFunc("GET /messages", s.httpMessages)
	mux.HandleFunc("GET /binds", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Binds()) })
	mux.HandleFunc("POST /mo", s.httpMO)
	mux.HandleFunc("GET /behaviour", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Behaviour()) })
	mux.HandleFunc("PUT /behaviour", s.httpBehaviour)
	mux.HandleFunc("POST /unbind", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"unbound": s.Unbind(r.URL.Query().Get("system_id"))})
	})
	mux.HandleFunc("POST /drop", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"dropped": s.DropBinds(r.URL.Query().Get("system_id"))})
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		writeJSON(w, http.StatusOK, map[string]bool{"reset": true})
	})
	return http.MaxBytesHandler(mux, 1<<20)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func httpError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func (s *Server) httpMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			httpError(w, http.StatusBadRequest, fmt.Errorf("limit %q is not a positive number", v))
			return
		}
		limit = n
	}
	to, from, sys := strings.TrimPrefix(q.Get("to"), "+"), strings.TrimPrefix(q.Get("from"), "+"), q.Get("system_id")
	all := s.Messages()
	out := []Message{}
	for i := len(all) - 1; i >= 0 && len(out) < limit; i-- { // newest first
		m := all[i]
		if (to != "" && m.To != to) || (from != "" && m.From != from) || (sys != "" && m.SystemID != sys) {
			continue
		}
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) httpMO(w http.ResponseWriter, r *http.Request) {
	var mo MO
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&mo); err != nil {
		httpError(w, http.StatusBadRequest, fmt.Errorf("MO body: %w", err))
		return
	}
	n, err := s.InjectMO(mo)
	if err != nil {
		httpError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"parts": n})
}

func (s *Server) httpBehaviour(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		httpError(w, http.StatusBadRequest, fmt.Errorf("behaviour body: %w", err))
		return
	}
	b := s.Behaviour()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		httpError(w, http.StatusBadRequest, fmt.Errorf("behaviour body: %w", err))
		return
	}
	// Only a body naming refuse_binds_for starts a new refusal period;
	// changing anything else must not lock binds out again.
	var named map[string]json.RawMessage
	_ = json.Unmarshal(body, &named)
	_, rearm := named["refuse_binds_for"]
	if err := s.setBehaviour(b, rearm); err != nil {
		httpError(w, http.StatusUnprocessableEntity, err)
		return
	}
	writeJSON(w, http.StatusOK, s.Behaviour())
}
