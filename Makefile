# cobo-oauth: `make demo` runs the main job, `make test` runs every test suite.
CARGO ?= cargo
RELEASE_DIR := target/release

.PHONY: help build bindgen demo test test-rust test-python test-interop test-kotlin test-swift test-platforms-smoke test-platforms test-sdist bench

help: ## List the targets and what they do
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-21s %s\n", $$1, $$2}'

build: ## Release build of the core library (.so, with the Kotlin binding's direct signing), the cobo-oauth CLI and the mock server
	$(CARGO) build --release -p cobo-oauth -p cobo-oauth-cli -p cobo-oauth-mock --features cobo-oauth/redis,cobo-oauth/kotlin-direct-signing

bindgen: ## Release build of the workspace's uniffi-bindgen (Kotlin and Swift generators)
	$(CARGO) build --release -p uniffi-bindgen

demo: build ## Start the embedded mock, register a key, get, refresh, rotate; the token manager; worker processes sharing one store
	$(RELEASE_DIR)/cobo-oauth demo

test: test-rust test-python test-interop test-kotlin test-swift test-platforms-smoke ## Run every test suite (the long platform runs are in test-platforms)

test-rust: ## Rust unit and integration tests (against the mock server and a throwaway redis-server); no import cycle; READMEs' links; every README code block claimed by a test
	python3 scripts/check-import-cycles.py core/src bindings-python/src
	python3 scripts/check-readme-links.py
	python3 scripts/check-readme-snippets.py
	bash tests/redis/with-redis.sh $(CARGO) test --release --no-fail-fast -p cobo-oauth -p cobo-oauth-cli -p cobo-oauth-mock --features cobo-oauth/redis,cobo-oauth/kotlin-direct-signing

test-python: ## Python: build the abi3 wheel, install it in a fresh venv, stubtest + pytest against the mock (and a throwaway Redis)
	bash tests/redis/with-redis.sh bash bindings-python/scripts/test.sh

test-interop: ## Interop with Cobo's official Python SDK (cobo-waas2, own venv): its requests vs the mock, signatures equal
	bash tests/interop/run.sh

test-kotlin: ## Kotlin binding: build core, generate, JUnit 5 tests (next to a throwaway Redis), packaged-jar test (Maven)
	bash tests/redis/with-redis.sh mvn -B -f bindings-kotlin/pom.xml verify

test-swift: ## Swift: install the toolchain chroot if missing, generate, XCTest against the mock (and a throwaway Redis)
	bash tests/redis/with-redis.sh bash bindings-swift/scripts/test.sh

test-platforms-smoke: ## Other platforms, short: the release workflow parses and names what exists; the CLI's tests and the vectors on Windows (wine); the jar's aarch64 library on an arm64 JVM (qemu)
	python3 scripts/check-release-workflow.py
	bash scripts/test-windows.sh smoke
	bash scripts/test-arm64-jvm.sh

test-platforms: ## Other platforms, long; not in `test`: the Rust suite under wine, the Windows wheel and DLL, arm64 (wheel under qemu, library), the jar with all three libraries (its aarch64 one on an arm64 JVM)
	bash tests/redis/with-redis.sh bash scripts/test-windows.sh full
	bash scripts/build-windows-artifacts.sh
	bash scripts/test-arm64.sh full
	bash scripts/build-platform-jar.sh
	bash scripts/test-arm64-jvm.sh

test-sdist: ## Python sdist: build it, pip install it in a fresh venv (compiles the core), sign the vectors; not in `test`
	bash bindings-python/scripts/test-sdist.sh

bench: ## Benchmarks vs Cobo's official SDKs (Python, Java) and the Rust core (also Swift): one table, target/bench/results.json
	bash bench/run.sh
