# The two commands of the README: `make demo` and `make test`.
# Each target first finds a JDK >= 21 and installs Leiningen and Debian's
# libnippy-clojure when missing (scripts/env.sh).
SHELL := /bin/bash
ENV := set -eo pipefail; source scripts/env.sh;

.PHONY: demo test test-continuation test-vthread stress check bench jmh install install-deps clean

demo:
	@$(ENV) lein demo

# Both strands and the consumer project, with counts (scripts/test.sh).
test: check
	@scripts/test.sh

# The suite on the default (continuation) strand.
test-continuation:
	@$(ENV) lein test

# The same suite on the virtual-thread strand.
test-vthread:
	@$(ENV) lein with-profile +vthread test

stress:
	@$(ENV) lein test :stress

# Fails on any reflection warning in tasklet.* (src-clj and bench).
check:
	@$(ENV) out=$$(lein check 2>&1); echo "$$out" | tail -3; \
	  if echo "$$out" | grep -E 'Reflection warning, (tasklet|.*/tasklet/)' ; then echo "reflection warnings above" >&2; exit 1; fi

# The side-by-side suite (bench/tasklet/bench.clj); writes bench/RESULTS.md.
# Every workload runs in a fresh JVM with JDK defaults (only the continuation
# exports); 12-25 min on this 2-core machine with the load, --quick about 6. Options
# after ARGS=, e.g. make bench ARGS="--quick --only W2,W4,BIG" (ARGS=help
# lists them). Installs Debian's erlang-base for the Erlang/OTP column when
# it is missing (without it that column says n/a); Pekko comes from Maven
# Central through project.clj's :bench profile.
bench:
	@$(ENV) command -v erl >/dev/null 2>&1 || tasklet_apt_install erlang-base || true; lein bench $(ARGS)

# JMH micro-benchmarks of the kernel mailbox (jmh/); JMH options after ARGS=,
# e.g. make jmh ARGS="MailboxBench.putScan -f 1 -wi 2 -i 3".
jmh:
	@$(ENV) lein jmh $(ARGS)

# Nippy, encore and truss into the local Maven repository, repackaged from
# Debian without the manifest that would run Debian's Clojure 1.11 (every
# target above does this first; scripts/install-deps.sh says why).
install-deps:
	@$(ENV) true

# The library and its repackaged Nippy into the local Maven repository, for a
# project of your own that depends on [tasklet/tasklet "<version>"].
# `make install REPO=dir` puts them into a local repository of your choosing.
install:
	@scripts/install.sh $(REPO)

clean:
	rm -rf target
