# The front door: `make run` and `make test` do all set-up themselves (scripts/setup.sh).
.PHONY: setup build run test bench clean

setup:
	@bash scripts/setup.sh

build: setup

run: setup
	node dist/src/main.js serve

test: setup
	@bash scripts/test.sh

bench: setup
	npm run bench

clean:
	rm -rf dist node_modules/.ultra-dl-stamp
