# Thin wrapper over meson (see README.md). Every target configures what it needs.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
MESON_OPTS ?=
# Debian packages lensim needs to build, test and draw figures.
DEB_PKGS   := build-essential meson ninja-build pkg-config libgsl-dev libyaml-dev \
              libopenblas-dev gnuplot-nox python3

.PHONY: all demo test test-asan fuzz fuzz-ci bench deps clean install fidelity mutation sass reproduce

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Installs missing Debian packages when run as root; otherwise says what to install.
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing Debian packages: $$missing"; \
	    echo "install them with: sudo apt-get install $$missing"; exit 1; \
	  fi; \
	fi

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_OPTS)

$(BUILD_ASAN)/build.ninja: | deps
	meson setup $(BUILD_ASAN) -Db_sanitize=address,undefined -Db_lundef=false \
	  -Dcuda=disabled -Dbuildtype=debug $(MESON_OPTS)

demo: all
	./$(BUILD)/lensim run experiments/demo.yaml -o results/demo --force
	./$(BUILD)/lensim plot results/demo

test: all
	@meson test -C $(BUILD) --print-errorlogs --num-processes 2 > $(BUILD)/test-output.txt 2>&1; \
	  status=$$?; cat $(BUILD)/test-output.txt; \
	  python3 tests/summary.py $(BUILD)/meson-logs/testlog.json || status=1; exit $$status

test-asan: $(BUILD_ASAN)/build.ninja
	ninja -C $(BUILD_ASAN)
	@UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
	  meson test -C $(BUILD_ASAN) --print-errorlogs --num-processes 2 --timeout-multiplier 4 \
	  > $(BUILD_ASAN)/test-output.txt 2>&1; \
	  status=$$?; cat $(BUILD_ASAN)/test-output.txt; \
	  python3 tests/summary.py $(BUILD_ASAN)/meson-logs/testlog.json || status=1; exit $$status

# libFuzzer over each target of tests/fuzz/ for FUZZ_SECONDS (needs clang): its own build
# directory, everything instrumented for coverage and built with ASan and UBSan.
$(BUILD_FUZZ)/build.ninja: | deps
	@command -v clang >/dev/null || { echo "make fuzz needs clang: apt-get install clang"; exit 1; }
	CC=clang meson setup $(BUILD_FUZZ) -Dfuzz=true -Db_sanitize=address,undefined \
	  -Db_lundef=false -Dcuda=disabled -Dbuildtype=debugoptimized $(MESON_OPTS)

fuzz: $(BUILD_FUZZ)/build.ninja
	ninja -C $(BUILD_FUZZ) tests/fuzz/fuzz_cfg tests/fuzz/fuzz_profile tests/fuzz/fuzz_trace \
	  tests/fuzz/fuzz_run
	tests/fuzz/fuzz.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

# CI's bounded fuzzing: FUZZ_RUNS inputs per target with a fixed seed (see tests/fuzz/fuzz.sh),
# so that CI fuzzes nearly what a developer fuzzed; at most 300 s per target.
FUZZ_RUNS ?= 100000
fuzz-ci: $(BUILD_FUZZ)/build.ninja
	ninja -C $(BUILD_FUZZ) tests/fuzz/fuzz_cfg tests/fuzz/fuzz_profile tests/fuzz/fuzz_trace \
	  tests/fuzz/fuzz_run
	FUZZ_RUNS=$(FUZZ_RUNS) tests/fuzz/fuzz.sh $(BUILD_FUZZ) 300

# Mutation testing (issue 17; not run by CI): MUTANTS seeded-random universalmutator mutants of
# sim/, calib/, traces/, engine/, each built and run against the fast suites in a scratch copy
# under $(BUILD)/mutation; prints the kill score and the surviving mutants with their diffs.
# Needs `python3 -m pip install --user universalmutator`. See README.md (Tests).
MUTANTS ?= 60
MUTATION_SEED ?= 17
MUTATION_SCORED ?= 0
mutation:
	nice -n 19 python3 tests/mutation/mutation.py --n $(MUTANTS) --scored $(MUTATION_SCORED) \
	  --seed $(MUTATION_SEED) --build $(BUILD)

bench: all
	meson test -C $(BUILD) --benchmark --verbose

# issue 12: lensim on the PATH. `make install PREFIX=$HOME/.local` (default /usr/local; DESTDIR
# for packaging): the program in PREFIX/bin, all it needs (lensim plot writes its own scripts).
PREFIX ?= /usr/local
install: all
	install -D -m 755 $(BUILD)/lensim $(DESTDIR)$(PREFIX)/bin/lensim
# issue 11: live execution mode against the simulation on this machine's CPU. Calibrates the
# model's profile (thread CPU time: the machine may be shared), runs experiments/live-tiny.yaml
# live (every iteration on the kernels) and simulated with that profile, prints the report.
# FIDELITY_MODEL: the `mini` preset (iterations about 3 times tiny's, so that the model and not
# the timer's noise is tested); FIDELITY_MODEL=tiny runs the smaller one.
FIDELITY_DIR ?= $(BUILD)/fidelity
FIDELITY_MODEL ?= mini
fidelity: all
	mkdir -p $(FIDELITY_DIR)
	./$(BUILD)/lensim calibrate --model $(FIDELITY_MODEL) --backend cpu --cpu-time --grid small \
	  --max-seqs 32 --max-ctx 512 --max-prompt 256 --max-batch-tok 512 \
	  -o $(FIDELITY_DIR)/$(FIDELITY_MODEL).yaml
	./$(BUILD)/lensim run experiments/live-tiny.yaml -o $(FIDELITY_DIR)/live --force \
	  --set model.name=$(FIDELITY_MODEL) --set perf.profile=$(FIDELITY_DIR)/$(FIDELITY_MODEL).yaml
	./$(BUILD)/lensim run experiments/live-tiny.yaml -o $(FIDELITY_DIR)/sim --force \
	  --set model.name=$(FIDELITY_MODEL) --set perf.profile=$(FIDELITY_DIR)/$(FIDELITY_MODEL).yaml \
	  --set engine.mode=sim
	./$(BUILD)/lensim fidelity $(FIDELITY_DIR)/live $(FIDELITY_DIR)/sim

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)

# Issue 18: the CUDA kernels' SASS for sm_90 (no GPU needed; needs nvcc and cuobjdump, see
# calib/sass.sh): registers, spills, shared memory, occupancy, instructions per KB in the decode
# loops and 128-bit loads, PASS/MISS per goal. SASS_OPTS=--strict makes a miss fatal.
SASS_OPTS ?=
sass:
	calib/sass.sh $(SASS_OPTS)
# Paper reproduction report (issue 14): runs every paper experiment of docs/claims.json into
# results/reproduce/ and regenerates docs/REPRODUCTION.md, docs/reproduction-data.json and
# docs/figures/ (a test checks the report is up to date with its inputs).
reproduce: all
	python3 tools/reproduce.py run --lensim $(BUILD)/lensim --out results/reproduce -j 2
	python3 tools/reproduce.py report --results results/reproduce --lensim $(BUILD)/lensim
