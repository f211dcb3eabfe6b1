package uapicheck

import (
	"strings"
	"testing"
)

// A cut-down perf_event.h with the upstream layout.
const upstreamLike = `
struct perf_event_attr {
	__u32			type;
	__u64			disabled       :  1, /* off by default        */
				inherit	       :  1, /* children inherit it   */
				precise_ip     :  2, /* skid constraint       */
				defer_callchain:  1, /* request PERF_RECORD_CALLCHAIN_DEFERRED records */
				defer_output   :  1, /* output PERF_RECORD_CALLCHAIN_DEFERRED records */
				__reserved_1   : 58;
	__u32			wakeup_events;
};

enum perf_event_type {
	/*
	 * struct {
	 *	struct perf_event_header	header;
	 *	u64				hw_id;
	 *	struct sample_id		sample_id;
	 * };
	 */
	PERF_RECORD_AUX_OUTPUT_HW_ID		= 21,

	/*
	 * Deferred.
	 *
	 * struct {
	 *	struct perf_event_header	header;
	 *	u64				cookie;
	 *	u64				nr;
	 *	u64				ips[nr];
	 *	struct sample_id		sample_id;
	 * };
	 */
	PERF_RECORD_CALLCHAIN_DEFERRED		= 22,

	PERF_RECORD_MAX,			/* non-ABI */
};

enum perf_callchain_context {
	PERF_CONTEXT_USER			= (__u64)-512,
	PERF_CONTEXT_USER_DEFERRED		= (__u64)-640,
};
`

func mustParse(t *testing.T, src string) *Header {
	t.Helper()
	h, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestParse(t *testing.T) {
	h := mustParse(t, upstreamLike)
	if got := h.Bits["defer_callchain"]; got != (Bit{4, 1}) {
		t.Errorf("defer_callchain = %+v, want bit 4 width 1", got)
	}
	if got := h.Bits["defer_output"]; got != (Bit{5, 1}) {
		t.Errorf("defer_output = %+v, want bit 5 width 1", got)
	}
	if got := h.Enums["perf_event_type"]["PERF_RECORD_CALLCHAIN_DEFERRED"]; got != "22" {
		t.Errorf("PERF_RECORD_CALLCHAIN_DEFERRED = %q", got)
	}
	if got := h.Enums["perf_callchain_context"]["PERF_CONTEXT_USER_DEFERRED"]; got != "(__u64)-640" {
		t.Errorf("PERF_CONTEXT_USER_DEFERRED = %q", got)
	}
	want := "struct { struct perf_event_header header; u64 cookie; u64 nr; u64 ips[nr]; struct sample_id sample_id; };"
	if got := layoutString(h.Layouts["PERF_RECORD_CALLCHAIN_DEFERRED"]); got != want {
		t.Errorf("layout = %q\nwant     %q", got, want)
	}
	for _, it := range Compare(h, h) {
		if !it.Match() {
			t.Errorf("self-compare: %v", it)
		}
	}
}

func TestCompareFindsDifferences(t *testing.T) {
	up := mustParse(t, upstreamLike)
	cases := []struct{ name, from, to, field string }{
		{"swapped bits",
			"defer_callchain:  1, /* request PERF_RECORD_CALLCHAIN_DEFERRED records */\n\t\t\t\tdefer_output   :  1,",
			"defer_output   :  1, /* x */\n\t\t\t\tdefer_callchain:  1,", "perf_event_attr.defer_callchain"},
		{"record number", "PERF_RECORD_CALLCHAIN_DEFERRED\t\t= 22,", "PERF_RECORD_CALLCHAIN_DEFERRED\t\t= 23,",
			"enum perf_event_type PERF_RECORD_CALLCHAIN_DEFERRED"},
		{"marker", "(__u64)-640", "(__u64)-768", "enum perf_callchain_context PERF_CONTEXT_USER_DEFERRED"},
		{"layout without cookie", "*\tu64\t\t\t\tcookie;\n\t", "", "PERF_RECORD_CALLCHAIN_DEFERRED record layout"},
		{"shifted neighbour", "precise_ip     :  2,", "precise_ip     :  1,\n\t\t\t\tnew_bit:1,", "perf_event_attr.new_bit"},
	}
	for _, c := range cases {
		if !strings.Contains(upstreamLike, c.from) {
			t.Fatalf("%s: test text not found", c.name)
		}
		ours := mustParse(t, strings.Replace(upstreamLike, c.from, c.to, 1))
		found := false
		for _, it := range Compare(ours, up) {
			if it.Field == c.field && !it.Match() {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: Compare did not report %s", c.name, c.field)
		}
	}
}

func TestParseRejectsOtherFiles(t *testing.T) {
	if _, err := Parse([]byte("int main(void) { return 0; }\n")); err == nil {
		t.Fatal("Parse accepted a file without struct perf_event_attr")
	}
	bad := strings.Replace(upstreamLike, "__reserved_1   : 58;", "__reserved_1   : 57;", 1)
	if _, err := Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), "63 bits") {
		t.Fatalf("a 63-bit flags word: err = %v", err)
	}
}
