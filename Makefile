# SPDX-License-Identifier: Apache-2.0
# Entry points: `make demo` (deps, build, the netns rig with real traffic through xlbd),
# `make test` (deps, build, every suite, unit and sim suites again under ASan+UBSan) and
# `make bench` (release build, benchmarks, JSON under build/bench/).
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps build build-asan build-fuzz demo package test test-asan bench bench-rig soak golden fuzz format tidy clean

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

# The Debian package (CPack) of the release build: build/package/xlb_<version>_<arch>.deb.
package: build
	cd build/release && cpack -B $(CURDIR)/build/package

# Every suite on the release build, then the unit, sim and bpf suites (the in-process API test
# among them) again under ASan+UBSan, then each fuzz target for 30 s from its seed corpus.
test: build build-asan build-fuzz
	ctest --preset release -j $(JOBS) $(CTEST_ARGS)
	ctest --preset asan -j $(JOBS) -L 'unit|sim|bpf' $(CTEST_ARGS)
	ctest --preset fuzz -j $(JOBS) $(CTEST_ARGS)

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

# libFuzzer targets (tests/fuzz/: the packet parser, the pipeline, the XDP program held against
# the kernel's, the config loader, the API, the state files, cluster datagrams, the pcap reader)
# under ASan+UBSan, each for FUZZ_SECONDS (default 300) from its seed corpus in the repo. New
# inputs go to build/fuzz/fuzz-work/<target>/corpus, findings to .../findings (the run fails).
# Then which lines and branches of bpf/ the XDP target reached (llvm-cov). `make test` runs
# each for 30 s (label fuzz).
FUZZ_SECONDS ?= 300
fuzz: build-fuzz
	cmake --preset fuzz -DXLB_FUZZ_TEST_SECONDS=$(FUZZ_SECONDS) >/dev/null
	LLVM_PROFILE_FILE=$(CURDIR)/build/fuzz/xdp.profraw ctest --preset fuzz -j $(JOBS) $(CTEST_ARGS)
	llvm-profdata merge -sparse build/fuzz/xdp.profraw -o build/fuzz/xdp.profdata
	llvm-cov report build/fuzz/bin/xlb-fuzz-xdp -instr-profile=build/fuzz/xdp.profdata \
	  -show-branch-summary $(CURDIR)/bpf

build-fuzz: deps
	cmake --preset fuzz -DXLB_FUZZ_TEST_SECONDS=30
	cmake --build --preset fuzz -j $(JOBS)

format:
	clang-format -i $$(git ls-files '*.h' '*.cc' | grep -v '^bpf/')

tidy: build
	run-clang-tidy -quiet -p build/release $$(git ls-files 'engine/*.cc' 'apps/*.cc' 'sim/*.cc')

clean:
	rm -rf build
