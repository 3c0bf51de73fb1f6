// porcupine-harness: times Porcupine (github.com/anishathalye/porcupine,
// pinned in go.mod) on Jepsen etcd logs and Jepsen kv EDN histories, as a
// baseline for the Rust `checker` crate.
//
// Usage:
//
//	porcupine-harness [--rounds N] [--timeout D] [--model auto|etcd|kv] FILE...
//
// Output (stdout, TSV, one line per file after a header):
//
//	file	verdict	ops	min_ms	median_ms
//
// verdict is true / false / unknown (timeout), ops is the number of
// invocations, and the times cover only porcupine.CheckEventsTimeout on an
// already-parsed history (runtime.GC() runs before every round). Parse times
// go to stderr as `# parse_ms<TAB>FILE<TAB>MS` lines.
//
// The parsers and models follow porcupine_test.go (parseJepsenLog + etcdModel,
// parseKvLog + kvModel); see /work/shared/notes/linearizability.md §3.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"
)

// ---------------------------------------------------------------------------
// etcd register model (porcupine_test.go: etcdModel)

const etcdNil = -1000000 // the initial state; stands for nil

type etcdInput struct {
	op   uint8 // 0 read, 1 write, 2 cas
	arg1 int   // write value, or cas "from"
	arg2 int   // cas "to"
}

type etcdOutput struct {
	ok      bool // cas succeeded
	exists  bool // read returned a value (not nil)
	value   int  // read value
	unknown bool // indeterminate (timed out / :info)
}

var etcdModel = porcupine.Model{
	Init: func() interface{} { return etcdNil },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st := state.(int)
		inp := input.(etcdInput)
		out := output.(etcdOutput)
		switch inp.op {
		case 0:
			ok := out.unknown || (!out.exists && st == etcdNil) || (out.exists && st == out.value)
			return ok, state
		case 1:
			return true, inp.arg1
		default:
			ok := (inp.arg1 == st && out.ok) || (inp.arg1 != st && !out.ok) || out.unknown
			next := st
			if inp.arg1 == st {
				next = inp.arg2
			}
			return ok, next
		}
	},
}

var (
	reInvokeRead  = regexp.MustCompile(`^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:invoke\s+:read\s+nil$`)
	reInvokeWrite = regexp.MustCompile(`^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:invoke\s+:write\s+(\d+)$`)
	reInvokeCas   = regexp.MustCompile(`^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:invoke\s+:cas\s+\[(\d+)\s+(\d+)\]$`)
	reReturnRead  = regexp.MustCompile(`^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:ok\s+:read\s+(nil|\d+)$`)
	reReturnWrite = regexp.MustCompile(`^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:ok\s+:write\s+(\d+)$`)
	reReturnCas   = regexp.MustCompile(`^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(ok|fail)\s+:cas\s+\[(\d+)\s+(\d+)\]$`)
	reTimeoutRead = regexp.MustCompile(`^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:fail\s+:read\s+:timed-out$`)
)

func atoi(s string) int {
	v, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return v
}

// parseEtcd mirrors porcupine_test.go's parseJepsenLog:
//   - :fail :read :timed-out returns in place with unknown=true;
//   - :fail :cas is a return with ok=false;
//   - :info lines match nothing, so those invocations stay pending and get an
//     unknown return appended after the whole log (in invocation order here,
//     upstream uses map order; the verdict is the same).
func parseEtcd(data []byte) ([]porcupine.Event, int, error) {
	var events []porcupine.Event
	pending := make(map[int]int) // process -> id of its open invocation
	id := 0
	ret := func(line string, proc int, out etcdOutput) error {
		match, ok := pending[proc]
		if !ok {
			return fmt.Errorf("completion without invocation: %q", line)
		}
		delete(pending, proc)
		events = append(events, porcupine.Event{ClientId: proc, Kind: porcupine.ReturnEvent, Value: out, Id: match})
		return nil
	}
	call := func(proc int, in etcdInput) {
		events = append(events, porcupine.Event{ClientId: proc, Kind: porcupine.CallEvent, Value: in, Id: id})
		pending[proc] = id
		id++
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for sc.Scan() {
		line := string(bytes.TrimRight(sc.Bytes(), "\r"))
		var err error
		if m := reInvokeRead.FindStringSubmatch(line); m != nil {
			call(atoi(m[1]), etcdInput{op: 0})
		} else if m := reInvokeWrite.FindStringSubmatch(line); m != nil {
			call(atoi(m[1]), etcdInput{op: 1, arg1: atoi(m[2])})
		} else if m := reInvokeCas.FindStringSubmatch(line); m != nil {
			call(atoi(m[1]), etcdInput{op: 2, arg1: atoi(m[2]), arg2: atoi(m[3])})
		} else if m := reReturnRead.FindStringSubmatch(line); m != nil {
			out := etcdOutput{}
			if m[2] != "nil" {
				out.exists, out.value = true, atoi(m[2])
			}
			err = ret(line, atoi(m[1]), out)
		} else if m := reReturnWrite.FindStringSubmatch(line); m != nil {
			err = ret(line, atoi(m[1]), etcdOutput{})
		} else if m := reReturnCas.FindStringSubmatch(line); m != nil {
			err = ret(line, atoi(m[1]), etcdOutput{ok: m[2] == "ok"})
		} else if m := reTimeoutRead.FindStringSubmatch(line); m != nil {
			err = ret(line, atoi(m[1]), etcdOutput{unknown: true})
		}
		if err != nil {
			return nil, 0, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	events = appendPending(events, pending, etcdOutput{unknown: true})
	return events, id, nil
}

// appendPending gives every still-open invocation a return at the very end
// of the history ("return at time infinity"), in invocation order.
func appendPending(events []porcupine.Event, pending map[int]int, out interface{}) []porcupine.Event {
	type pe struct{ proc, id int }
	ps := make([]pe, 0, len(pending))
	for p, i := range pending {
		ps = append(ps, pe{p, i})
	}
	sort.Slice(ps, func(a, b int) bool { return ps[a].id < ps[b].id })
	for _, p := range ps {
		events = append(events, porcupine.Event{ClientId: p.proc, Kind: porcupine.ReturnEvent, Value: out, Id: p.id})
	}
	return events
}

// ---------------------------------------------------------------------------
// kv model (porcupine_test.go: kvModel, partitioned by key)

type kvInput struct {
	op    uint8 // 0 get, 1 put, 2 append
	key   string
	value string
}

type kvOutput struct {
	value   string
	unknown bool // extension: :info ops (none in the test data); a get then matches anything
}

var kvModel = porcupine.Model{
	PartitionEvent: func(history []porcupine.Event) [][]porcupine.Event {
		m := make(map[string][]porcupine.Event)
		match := make(map[int]string) // id -> key
		for _, v := range history {
			if v.Kind == porcupine.CallEvent {
				key := v.Value.(kvInput).key
				m[key] = append(m[key], v)
				match[v.Id] = key
			} else {
				key := match[v.Id]
				m[key] = append(m[key], v)
			}
		}
		ret := make([][]porcupine.Event, 0, len(m))
		for _, v := range m {
			ret = append(ret, v)
		}
		return ret
	},
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		inp := input.(kvInput)
		out := output.(kvOutput)
		st := state.(string)
		switch inp.op {
		case 0:
			return out.unknown || out.value == st, state
		case 1:
			return true, inp.value
		default:
			return true, st + inp.value
		}
	},
	Hash: func(state interface{}) uint64 {
		h := fnv.New64a()
		h.Write([]byte(state.(string)))
		return h.Sum64()
	},
}

// ednLine holds the fields of one kv history line that we care about.
type ednLine struct {
	process  int
	typ      []byte // invoke / ok / fail / info (keyword without ':')
	f        []byte // get / put / append
	key      []byte // string contents or raw token
	value    []byte // string contents (nil -> valueNil)
	valueNil bool
}

var errSkip = errors.New("skip")

// parseEdnLine is a small hand parser for a flat EDN map of the form
// {:index 7, :time 1, :process 3, :type :invoke, :f :append, :key "17", :value "x 3 5 y"}.
// Values may be integers, keywords, nil, strings (with \" and \\ escapes) or
// vectors/maps (skipped). Unknown keys are ignored.
func parseEdnLine(s []byte, out *ednLine) error {
	*out = ednLine{process: -1}
	i := 0
	n := len(s)
	skipWs := func() {
		for i < n && (s[i] == ' ' || s[i] == ',' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			i++
		}
	}
	skipWs()
	if i == n {
		return errSkip
	}
	if s[i] != '{' {
		return fmt.Errorf("expected '{'")
	}
	i++
	for {
		skipWs()
		if i >= n {
			return fmt.Errorf("unterminated map")
		}
		if s[i] == '}' {
			break
		}
		if s[i] != ':' {
			return fmt.Errorf("expected keyword at byte %d", i)
		}
		ks := i + 1
		for i < n && s[i] != ' ' && s[i] != ',' && s[i] != '}' {
			i++
		}
		k := s[ks:i]
		skipWs()
		if i >= n {
			return fmt.Errorf("missing value")
		}
		// value
		var raw []byte
		isStr, isNil := false, false
		switch c := s[i]; {
		case c == '"':
			i++
			start := i
			esc := false
			for i < n && s[i] != '"' {
				if s[i] == '\\' {
					esc = true
					i++
				}
				i++
			}
			if i >= n {
				return fmt.Errorf("unterminated string")
			}
			raw = s[start:i]
			if esc {
				raw = unescape(raw)
			}
			i++
			isStr = true
		case c == '[' || c == '{' || c == '(':
			depth := 0
			inStr := false
			for i < n {
				ch := s[i]
				if inStr {
					if ch == '\\' {
						i++
					} else if ch == '"' {
						inStr = false
					}
				} else if ch == '"' {
					inStr = true
				} else if ch == '[' || ch == '{' || ch == '(' {
					depth++
				} else if ch == ']' || ch == '}' || ch == ')' {
					depth--
					if depth == 0 {
						i++
						break
					}
				}
				i++
			}
		default:
			start := i
			for i < n && s[i] != ' ' && s[i] != ',' && s[i] != '}' {
				i++
			}
			raw = s[start:i]
			if string(raw) == "nil" {
				isNil = true
			} else if len(raw) > 0 && raw[0] == ':' {
				raw = raw[1:]
			}
		}
		switch string(k) {
		case "process":
			p, err := strconv.Atoi(string(raw))
			if err != nil {
				return fmt.Errorf("bad :process %q", raw)
			}
			out.process = p
		case "type":
			out.typ = raw
		case "f":
			out.f = raw
		case "key":
			out.key = raw
		case "value":
			out.value = raw
			out.valueNil = isNil || (!isStr && raw == nil)
		}
	}
	if out.process < 0 || out.typ == nil || out.f == nil {
		return fmt.Errorf("missing :process/:type/:f")
	}
	return nil
}

func unescape(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			i++
			switch b[i] {
			case 'n':
				out = append(out, '\n')
			case 't':
				out = append(out, '\t')
			default:
				out = append(out, b[i])
			}
		} else {
			out = append(out, b[i])
		}
	}
	return out
}

// parseKv mirrors porcupine_test.go's parseKvLog (plus :index/:time keys):
// invocations become calls, :ok completions returns (a get's output is the
// value read). Extensions for histories the test data does not contain:
// :fail removes the invocation (it did not happen), :info leaves it pending
// with an unknown return at the end of the history.
func parseKv(r io.Reader, sizeHint int) ([]porcupine.Event, int, error) {
	events := make([]porcupine.Event, 0, sizeHint+16)
	pending := make(map[int]int)
	failed := make(map[int]bool)
	keys := make(map[string]string) // interning
	intern := func(b []byte) string {
		if s, ok := keys[string(b)]; ok {
			return s
		}
		s := string(b)
		keys[s] = s
		return s
	}
	id := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	var l ednLine
	lineNo := 0
	for sc.Scan() {
		lineNo++
		if err := parseEdnLine(sc.Bytes(), &l); err != nil {
			if err == errSkip {
				continue
			}
			return nil, 0, fmt.Errorf("line %d: %v", lineNo, err)
		}
		var op uint8
		switch string(l.f) {
		case "get":
			op = 0
		case "put":
			op = 1
		case "append":
			op = 2
		default:
			return nil, 0, fmt.Errorf("line %d: unknown :f %q", lineNo, l.f)
		}
		switch string(l.typ) {
		case "invoke":
			in := kvInput{op: op, key: intern(l.key)}
			if op != 0 {
				in.value = string(l.value)
			}
			events = append(events, porcupine.Event{ClientId: l.process, Kind: porcupine.CallEvent, Value: in, Id: id})
			pending[l.process] = id
			id++
		case "ok", "fail", "info":
			match, ok := pending[l.process]
			if !ok {
				return nil, 0, fmt.Errorf("line %d: completion without invocation", lineNo)
			}
			switch string(l.typ) {
			case "ok":
				delete(pending, l.process)
				out := kvOutput{}
				if op == 0 {
					out.value = string(l.value)
				}
				events = append(events, porcupine.Event{ClientId: l.process, Kind: porcupine.ReturnEvent, Value: out, Id: match})
			case "fail":
				delete(pending, l.process)
				failed[match] = true
			case "info":
				delete(pending, l.process)
				pending[-1-match] = match // stays open until the end; unique fake process key
			}
		default:
			return nil, 0, fmt.Errorf("line %d: unknown :type %q", lineNo, l.typ)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	// Unknown returns at the end for :info and never-completed invocations.
	type pe struct{ proc, id int }
	ps := make([]pe, 0, len(pending))
	for p, i := range pending {
		ps = append(ps, pe{p, i})
	}
	sort.Slice(ps, func(a, b int) bool { return ps[a].id < ps[b].id })
	for _, p := range ps {
		events = append(events, porcupine.Event{Kind: porcupine.ReturnEvent, Value: kvOutput{unknown: true}, Id: p.id})
	}
	if len(failed) > 0 {
		kept := events[:0]
		for _, e := range events {
			if !failed[e.Id] {
				kept = append(kept, e)
			}
		}
		events = kept
		id -= len(failed)
		// Porcupine renumbers ids per partition, so gaps in ids are fine.
	}
	// Fix the client id of the end-of-history returns.
	callClient := make(map[int]int, len(ps))
	for _, p := range ps {
		callClient[p.id] = 0
	}
	if len(ps) > 0 {
		for _, e := range events {
			if e.Kind == porcupine.CallEvent {
				if _, ok := callClient[e.Id]; ok {
					callClient[e.Id] = e.ClientId
				}
			}
		}
		for i := range events {
			if events[i].Kind == porcupine.ReturnEvent {
				if c, ok := callClient[events[i].Id]; ok {
					events[i].ClientId = c
				}
			}
		}
	}
	return events, id, nil
}

// ---------------------------------------------------------------------------

func detectModel(path string, data []byte) string {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case bytes.HasPrefix(trimmed, []byte("{")):
		return "kv"
	case bytes.Contains(firstLine(trimmed), []byte("jepsen.util")):
		return "etcd"
	case len(trimmed) == 0:
		return "empty"
	}
	return ""
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

func fmtMs(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Nanoseconds())/1e6, 'f', 4, 64)
}

func main() {
	rounds := flag.Int("rounds", 5, "timed check rounds per file")
	timeout := flag.Duration("timeout", 0, "Porcupine timeout per check (0 = none); a timeout gives verdict unknown")
	model := flag.String("model", "auto", "auto | etcd | kv")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s [--rounds N] [--timeout D] [--model auto|etcd|kv] FILE...\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 || *rounds < 1 {
		flag.Usage()
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintln(w, "file\tverdict\tops\tmin_ms\tmedian_ms")
	w.Flush()
	exit := 0
	for _, path := range flag.Args() {
		t0 := time.Now()
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "error: %s: %v\n", path, err)
			exit = 1
			continue
		}
		m := *model
		if m == "auto" {
			m = detectModel(path, data)
		}
		var events []porcupine.Event
		var ops int
		var pm porcupine.Model
		switch m {
		case "etcd":
			events, ops, err = parseEtcd(data)
			pm = etcdModel
		case "kv":
			events, ops, err = parseKv(bytes.NewReader(data), bytes.Count(data, []byte{'\n'})+1)
			pm = kvModel
		case "empty":
			pm = etcdModel
		default:
			err = fmt.Errorf("cannot tell the model from the content; use --model")
		}
		data = nil
		if err != nil {
			fmt.Fprintf(os.Stderr, "error: %s: %v\n", path, err)
			exit = 1
			continue
		}
		parse := time.Since(t0)
		fmt.Fprintf(os.Stderr, "# parse_ms\t%s\t%s\n", path, fmtMs(parse))

		times := make([]time.Duration, 0, *rounds)
		verdict := ""
		for r := 0; r < *rounds; r++ {
			runtime.GC()
			start := time.Now()
			res := porcupine.CheckEventsTimeout(pm, events, *timeout)
			el := time.Since(start)
			times = append(times, el)
			v := map[porcupine.CheckResult]string{porcupine.Ok: "true", porcupine.Illegal: "false", porcupine.Unknown: "unknown"}[res]
			if verdict == "" || v == "unknown" {
				verdict = v
			} else if v != verdict && verdict != "unknown" {
				fmt.Fprintf(os.Stderr, "error: %s: verdict changed between rounds (%s, %s)\n", path, verdict, v)
				exit = 1
			}
		}
		sort.Slice(times, func(a, b int) bool { return times[a] < times[b] })
		var med time.Duration
		if len(times)%2 == 1 {
			med = times[len(times)/2]
		} else {
			med = (times[len(times)/2-1] + times[len(times)/2]) / 2
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", path, verdict, ops, fmtMs(times[0]), fmtMs(med))
		w.Flush()
	}
	w.Flush()
	os.Exit(exit)
}
