# loophub - thin wrapper around CMake. See README.md.
#   make run     install missing packages, build, start the hub with embedded defaults
#   make test    install, build with ASan+UBSan, run every suite through ctest
#   make demo    the five-minute walk-through against a temporary database
#   make bench   Release build + benchmarks (bench/results.json)
#   make install the binary, libloophub, headers, pkg-config file, config, unit (PREFIX, DESTDIR)
#   make deb     the Debian packages loophub and loophub-dev (build-deb/*.deb, CPack)
#   make test-valgrind  every suite (and the hub binaries they start) under valgrind memcheck
#   make coverage  gcov line and branch coverage per file: the suites, then the fuzz replays apart
#   make mutation  apply each mutation of tests/mutations.txt, run the suites, report survivors
#   make clean
BUILD       ?= build
TEST_BUILD  ?= build-test
BENCH_BUILD ?= build-release
VG_BUILD    ?= build-valgrind
COV_BUILD   ?= build-coverage
# memcheck for every test program and what it runs, but the foreign tools (sqlite3, kcat, ...)
VALGRIND    := valgrind;--quiet;--error-exitcode=97;--leak-check=full;--errors-for-leak-kinds=definite;--show-leak-kinds=definite;--trace-children=yes;--trace-children-skip=*/sqlite3,*/kcat,*/promtool,*/sh,*/bash,*/prometheus-alertmanager,*/amtool,*/chromium,*/kafka_mock;--suppressions=$(CURDIR)/scripts/valgrind.supp
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
RUN_ARGS    ?=
WERROR      := $(if $(CI),-DLH_WERROR=ON,)
# quiet builds: what is built and run is said once; a compiler's warning or error still shows
# (VERBOSE=1 brings back every rule and make's directory lines)
QUIET       := $(if $(VERBOSE),-DCMAKE_RULE_MESSAGES=ON -DCMAKE_TARGET_MESSAGES=ON,-DCMAKE_RULE_MESSAGES=OFF -DCMAKE_TARGET_MESSAGES=OFF)
ifeq ($(VERBOSE),)
MAKEFLAGS   += --no-print-directory
endif

.PHONY: all build run test test-valgrind coverage mutation demo bench clean deps deps-test deps-bench deps-coverage install deb

all: build

deps:
	@sh scripts/install-deps.sh
deps-test:
	@sh scripts/install-deps.sh --test
deps-bench:
	@sh scripts/install-deps.sh --bench
deps-coverage:
	@sh scripts/install-deps.sh --test --coverage

build: deps
	@echo "make: building loophub (RelWithDebInfo) in $(BUILD)/"
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLH_TESTS=OFF $(WERROR) $(QUIET) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS) --target loophub
	@echo "make: built $(BUILD)/loophub ($$(./$(BUILD)/loophub --version))"

run: build
	@echo "make: starting ./$(BUILD)/loophub run $(RUN_ARGS) (Ctrl-C stops it cleanly)"
	@./$(BUILD)/loophub run $(RUN_ARGS)

PREFIX      ?= /usr/local
DEB_BUILD   ?= build-deb
install: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLH_TESTS=OFF -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(WERROR) >/dev/null
	cmake --build $(BUILD) -j$(JOBS) --target loophub loophub_static loophub_shared man
	cmake --install $(BUILD)

deb: deps
	cmake -S . -B $(DEB_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLH_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr $(WERROR) >/dev/null
	cmake --build $(DEB_BUILD) -j$(JOBS) --target loophub loophub_static loophub_shared man
	cd $(DEB_BUILD) && cpack -G DEB
	@ls -1 $(DEB_BUILD)/*.deb

test: deps-test
	@echo "make: building every suite (Debug, ASan + UBSan) in $(TEST_BUILD)/"
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLH_SANITIZE=ON $(WERROR) $(QUIET) >/dev/null
	@cmake --build $(TEST_BUILD) -j$(JOBS)
	@echo "make: running $$(cd $(TEST_BUILD) && ctest -N | sed -n 's/^Total Tests: //p') tests through ctest, $(JOBS) at a time"
	@cd $(TEST_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --output-on-failure -j$(JOBS) --timeout 600; rc=$$?; \
	    echo "Check summaries:"; \
	    grep -E '^(Running suite|[0-9]+%: Checks: )' Testing/Temporary/LastTest.log; \
	    exit $$rc

# No sanitizers (valgrind and ASan do not mix); tests run one at a time with 10x the timeout:
# expect about an hour on 2 cores. A leak or invalid access fails the test that made it.
test-valgrind: deps-test
	command -v valgrind >/dev/null || apt-get install -y valgrind
	cmake -S . -B $(VG_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLH_SANITIZE=OFF "-DCMAKE_CROSSCOMPILING_EMULATOR=$(VALGRIND)" >/dev/null
	cmake --build $(VG_BUILD) -j$(JOBS)
	cd $(VG_BUILD) && LH_TEST_SLOW=10 CK_TIMEOUT_MULTIPLIER=10 ctest --output-on-failure --timeout 6000 -E bench_smoke

# No sanitizers, -O0 (LH_COVERAGE); reports under $(COV_BUILD)/coverage/ (scripts/coverage.sh)
coverage: deps-coverage
	CMAKE_ARGS="$(WERROR)" JOBS=$(JOBS) sh scripts/coverage.sh $(COV_BUILD)
# For developers, not CI (like bench): scripts/mutation.sh, report in build-mutation/report.md.
# MUTATION_ONLY=id1,id2 runs a subset; MUTATION_JOBS sets the parallelism.
mutation: deps-test
	MUTATION_JOBS=$${MUTATION_JOBS:-$(JOBS)} sh scripts/mutation.sh

demo: build
	sh examples/demo.sh ./$(BUILD)/loophub

bench: deps-bench
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release -DLH_TESTS=ON >/dev/null
	cmake --build $(BENCH_BUILD) -j$(JOBS)
	sh bench/run.sh $(BENCH_BUILD)

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(BENCH_BUILD) $(VG_BUILD) $(COV_BUILD) $(DEB_BUILD)
