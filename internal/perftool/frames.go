package perftool

import (
	"bytes"
	"debug/elf"
	"fmt"
)

// WorkloadChain is the user call chain of the suite's workload
// (qemu-tests/perftool/perf-workload.c), innermost first.
var WorkloadChain = []string{"wl_leaf", "wl_c", "wl_b", "wl_a", "main"}

// DeepChain are the functions of the workload's --deep mode (the suite's
// defer_overhead case), innermost first: wl_deep calls itself DEPTH times
// and every one of those frames must be walked.
var DeepChain = []string{"wl_deep_reads", "wl_deep"}

// WorkloadCFlags build the workload so that every function keeps its
// frame. GCC (12.2 measured) at -O1 and above drops the frame of a
// function that calls nothing even with -fno-omit-frame-pointer
// -mno-omit-leaf-frame-pointer (the function needs no stack, so there is
// no frame to keep), hence -O0; CheckFramePointers verifies the result.
var WorkloadCFlags = []string{
	"-static", "-O0", "-g", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer",
	"-fno-optimize-sibling-calls", "-Wall",
}

var (
	endbr64  = []byte{0xf3, 0x0f, 0x1e, 0xfa}
	pushRBP  = []byte{0x55}
	movRBP   = []byte{0x48, 0x89, 0xe5}
	movRBPv2 = []byte{0x48, 0x8b, 0xec}
)

// CheckFramePointers verifies that each of funcs in the ELF file path
// starts with push %rbp; mov %rsp,%rbp (after an optional endbr64), so
// that a frame-pointer walk from any instruction after the prologue sees
// every function of the chain.
func CheckFramePointers(path string, funcs []string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	want := map[string]bool{}
	for _, fn := range funcs {
		want[fn] = true
	}
	found := map[string]bool{}
	for _, s := range syms {
		if !want[s.Name] || elf.ST_TYPE(s.Info) != elf.STT_FUNC || found[s.Name] {
			continue
		}
		found[s.Name] = true
		if int(s.Section) >= len(f.Sections) {
			return fmt.Errorf("%s: %s: bad section", path, s.Name)
		}
		sec := f.Sections[s.Section]
		data, err := sec.Data()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		off := s.Value - sec.Addr
		if s.Value < sec.Addr || off >= uint64(len(data)) {
			return fmt.Errorf("%s: %s outside its section", path, s.Name)
		}
		end := min(off+16, uint64(len(data)))
		if err := checkPrologue(data[off:end]); err != nil {
			return fmt.Errorf("%s: %s: %w", path, s.Name, err)
		}
	}
	for _, fn := range funcs {
		if !found[fn] {
			return fmt.Errorf("%s: no function %s", path, fn)
		}
	}
	return nil
}

func checkPrologue(code []byte) error {
	code = bytes.TrimPrefix(code, endbr64)
	if len(code) < 4 {
		return fmt.Errorf("too short for a prologue (% x)", code)
	}
	if !bytes.HasPrefix(code, pushRBP) {
		return fmt.Errorf("does not start with push %%rbp (% x): its frame is omitted", code[:4])
	}
	code = code[1:]
	if !bytes.HasPrefix(code, movRBP) && !bytes.HasPrefix(code, movRBPv2) {
		return fmt.Errorf("push %%rbp is not followed by mov %%rsp,%%rbp (% x)", code[:3])
	}
	return nil
}
