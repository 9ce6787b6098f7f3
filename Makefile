# SPDX-License-Identifier: Apache-2.0
# Entry points: `make demo` (deps, build, the netns rig with real traffic through xlbd),
# `make test` (deps, build, every suite, unit and sim suites again under ASan+UBSan) and
# `make bench` (release build, benchmarks, JSON under build/bench/).
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps build build-asan demo test test-asan bench bench-rig soak golden fuzz format tidy clean

all: build

deps:
	./ci/deps.sh

build: deps
	cmake --preset release
	cmake --build --preset release -j $(JOBS)

build-asan: deps
	cmake --preset asan
	cmake --build --preset asan -j $(JOBS)

demo: build
	./scripts/demo.sh

# Every suite on the release build, then the unit, sim and bpf suites (the in-process API test
# among them) again under ASan+UBSan.
test: build build-asan
	ctest --preset release -j $(JOBS) $(CTEST_ARGS)
	ctest --preset asan -j $(JOBS) -L 'unit|sim|bpf' $(CTEST_ARGS)

test-asan: build-asan
	ctest --preset asan -j $(JOBS) -L 'unit|sim|bpf' $(CTEST_ARGS)

# Regenerates pcaps/golden (inputs from their seeds, and the reports their replay must produce).
golden: build
	./scripts/golden.sh

bench: build
	./bench/run.sh build/bin build/bench

# xlb, nftables full-NAT and HAProxy on the same netns rig in the same run (RIG_RUNS, default 3),
# then one xlb instance against three clustered (bench/cluster.sh; RIG_CLUSTER=0 skips it): JSON,
# Markdown and PNG plots under build/bench/ (about 7 minutes a run).
bench-rig: build
	./bench/rig.sh build/bench

# Mixed traffic, faults and API churn for SOAK_MINUTES (default 30); series and plot under
# build/soak/. Not part of `make test` (its 2-minute version is, in the netns suite).
soak: build
	./scripts/soak.sh build/soak

# libFuzzer on the XDP program's native build under ASan+UBSan, held against the kernel's as
# root (tests/fuzz/), for FUZZ_SECONDS (default 60), then which lines and branches of bpf/ the
# run reached (llvm-cov). Corpus in build/fuzz/corpus/, findings in build/fuzz/findings/. Not
# part of `make test` (its seeded differential run is, label bpf).
FUZZ_SECONDS ?= 60
fuzz: deps
	cmake --preset fuzz
	cmake --build --preset fuzz -j $(JOBS)
	mkdir -p build/fuzz/corpus/xdp build/fuzz/findings
	XLB_FUZZ_SEEDS=build/fuzz/corpus/xdp LLVM_PROFILE_FILE=build/fuzz/xdp.profraw \
	  build/fuzz/bin/xlb-fuzz-xdp build/fuzz/corpus/xdp \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=4200 -artifact_prefix=build/fuzz/findings/
	llvm-profdata merge -sparse build/fuzz/xdp.profraw -o build/fuzz/xdp.profdata
	llvm-cov report build/fuzz/bin/xlb-fuzz-xdp -instr-profile=build/fuzz/xdp.profdata \
	  -show-branch-summary $(CURDIR)/bpf

format:
	clang-format -i $$(git ls-files '*.h' '*.cc' | grep -v '^bpf/')

tidy: build
	run-clang-tidy -quiet -p build/release $$(git ls-files 'engine/*.cc' 'apps/*.cc' 'sim/*.cc')

clean:
	rm -rf build
