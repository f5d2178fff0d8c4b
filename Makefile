# dm-cowbackup top-level build.
#
#   make            build kernel/dm-cowbackup.ko and userspace/cowbackup-ctl
#   make deps       install the Debian packages everything needs (root);
#                   make, check*, demo, bench*, fuzz, sanitize and deb run
#                   it first (quick when all are there; not as root it
#                   stops and lists the missing ones)
#   make check      host unit/image tests, style checks and guest tests
#   make check-pkg  the Debian packages installed in a guest (DKMS; slow)
#   make check-debug  the guest tests on a KASAN/lockdep kernel (built once
#                   from linux-source-6.1 and cached: 40+ min the first time)
#   make stress     30 minutes of jobs, storms and verified reads in a guest
#                   (STRESS_SECONDS=, STRESS_SEED=); also a long table fuzz
#   make demo       back up a live mounted LVM volume inside a guest
#   make man        build/man/cowbackup-ctl.8 and dm-cowbackup.4 from the rst docs
#   make dkms-src   the module source for DKMS in /usr/src/dm-cowbackup-VERSION
#   make install    install the module, cowbackup-ctl, its man pages, bash
#                   completion and udev rules; make uninstall removes them
#                   (DESTDIR, PREFIX, SBINDIR, MANDIR, BASHCOMPDIR,
#                   UDEVRULESDIR honoured; install-ctl: all but the module)

# Recursively expanded (no :=), so that a target run after `deps` sees the
# headers deps has just installed. Errors show in the module rule.
KDIR ?= $(shell scripts/kdir.sh 2>/dev/null)
KVER = $(patsubst /lib/modules/%/build,%,$(KDIR))
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
# bash-completion searches $XDG_DATA_DIRS (/usr/local/share, /usr/share).
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# udev reads /usr/local/lib/udev/rules.d too (systemd >= 240).
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
# systemd reads /usr/local/lib/systemd/system too; the .deb uses /lib.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# Where kbuild's modules_install puts an external module.
INSTALL_MOD_DIR ?= extra
VERSION := $(shell awk '/\#define COWBACKUP_VERSION_(MAJOR|MINOR|PATCH)/ { v = v s $$3; s = "." } END { print v }' include/uapi/dm-cowbackup.h)
# The DKMS source tree (what dm-cowbackup-dkms ships).
DKMSSRCDIR ?= /usr/src/dm-cowbackup-$(VERSION)
export KDIR

.PHONY: all module userspace deps check check-host check-vm check-noudev check-pkg check-style \
	stress check-debug \
	demo install install-module install-ctl uninstall \
	uninstall-module uninstall-ctl clean bench bench-icount bench-remote bench-core \
	fuzz sanitize man deb dkms-src

all: module userspace

# Every entry point that needs Debian packages runs deps first: it is
# quick when they are all there, installs what is missing as root, and
# stops with the list of missing packages otherwise. (userspace and man
# do not: the Debian package build runs them with its Build-Depends.)
module: deps
	@test -n "$(KDIR)" || scripts/kdir.sh >/dev/null
	@test -d "$(KDIR)" || { echo "make: KDIR=$(KDIR) does not exist; install linux-headers-amd64 (make deps)" >&2; exit 1; }
	@echo "  KDIR    $(KDIR)"
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kernel W=1 modules

userspace:
	$(MAKE) -C userspace

deps:
	scripts/deps.sh

check: deps all
	tests/run-all

check-host: deps userspace
	tests/run-all --host-only

check-vm: deps all
	tests/run-all --vm-only

# The ctl tests that check runs only under udev, here without it (hosts
# without udev): 13 guest runs, 5 min under TCG on a quiet
# 2-core host (2026-12-01), kept out of check for time.
check-noudev: deps all
	tests/run-all --noudev

# The .debs installed in a guest, DKMS building the module there: about
# 20 min under TCG, so not part of check.
check-pkg: deps all
	tests/install/deb
	tests/vm/run pkg-install

# Not part of check (time): the debug kernel is built (once, cached in
# /var/cache/dm-cowbackup) from linux-source-6.1; TESTS= picks tests,
# SHARD=K/N runs the K-th of N shares of the whole suite.
check-debug: deps
	scripts/deps.sh debug-kernel
	$(if $(SHARD),COWBACKUP_VM_SHARD=$(SHARD)) tests/vm/check-debug $(TESTS)

# Not part of check (time). The sizes reach the guest as kernel
# parameters, which its init passes on as environment variables.
STRESS_SECONDS ?= 1800
FUZZ_TABLE_LINES ?= 2000
stress: deps all
	COWBACKUP_VM_APPEND="COWBACKUP_STRESS_SECONDS=$(STRESS_SECONDS) $(if $(STRESS_SEED),COWBACKUP_STRESS_SEED=$(STRESS_SEED))" \
		tests/vm/run stress
	COWBACKUP_VM_APPEND="COWBACKUP_FUZZ_N=$(FUZZ_TABLE_LINES)" \
		tests/vm/run --timeout 3600 target-fuzz

demo: deps all
	tests/vm/run --disks 2 --disk-size 1200M --exec "$(CURDIR)/scripts/demo.sh"

bench-core: deps
	$(MAKE) -C tests/unit bench

bench: deps all
	tests/bench/run

# The brd figures again in a guest whose clock counts instructions
# (tests/vm/run's tcg-icount): repeatable to 0.3% whatever the host's
# load; writes tests/bench/README.md's ICOUNT section.
bench-icount: deps all
	COWBACKUP_VM_ACCEL=tcg-icount BENCH_SECTIONS=brd BENCH_CLUSTERS=64k \
		BENCH_MB=$${BENCH_MB:-256} BENCH_RESULTS=ICOUNT tests/bench/run

# First writes and copy speed with a local, a delayed and an NBD target.
bench-remote: all
	tests/vm/run --timeout 900 --exec "$(CURDIR)/tests/bench/remote-targets.sh"

# Debian packages dm-cowbackup-dkms and cowbackup-ctl, built with
# dpkg-buildpackage in a copy of the tree (build/deb/src/, so nothing is
# written next to the checkout), then checked by lintian; the .debs are
# copied to build/deb/.
deb: deps
	rm -rf build/deb
	mkdir -p build/deb/src/dm-cowbackup
	git ls-files -co --exclude-standard | while IFS= read -r f; do \
		[ -e "$$f" ] && printf '%s\0' "$$f"; done | \
		tar --null -T - -cf - | tar -xf - -C build/deb/src/dm-cowbackup
	cd build/deb/src/dm-cowbackup && dpkg-buildpackage -us -uc -b
	cp build/deb/src/*.deb build/deb/
	lintian --info build/deb/src/*.changes
	@ls build/deb/*.deb

# Man pages, generated from the rst documents (Documentation/man/*.rst are
# thin wrappers that include them) by rst2man.
MANPAGES := build/man/cowbackup-ctl.8 build/man/dm-cowbackup.4
man: $(MANPAGES)
build/man/cowbackup-ctl.8: Documentation/cowbackup-ctl.rst
build/man/dm-cowbackup.4: Documentation/admin-guide/device-mapper/cowbackup.rst
build/man/%: Documentation/man/%.rst scripts/mkman include/uapi/dm-cowbackup.h
	scripts/mkman $< $@

fuzz: deps
	$(MAKE) -C tests/fuzz run

sanitize: deps
	$(MAKE) -C tests/unit check-sanitize

# install: the module (kbuild modules_install; under DESTDIR it skips
# depmod) and install-ctl: cowbackup-ctl, its man pages, bash completion
# udev rules and the boot unit cowbackup-track.service that re-arms the
# change trackers (what the cowbackup-ctl .deb ships, PREFIX=/usr).
install: install-module install-ctl

install-module: module
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kernel INSTALL_MOD_PATH=$(DESTDIR) \
		INSTALL_MOD_DIR=$(INSTALL_MOD_DIR) modules_install
	@if [ -z "$(DESTDIR)" ]; then echo "  DEPMOD  $(KVER)"; depmod -a $(KVER); fi

install-ctl: userspace man
	install -D -m 0755 userspace/cowbackup-ctl $(DESTDIR)$(SBINDIR)/cowbackup-ctl
	install -D -m 0644 build/man/cowbackup-ctl.8 $(DESTDIR)$(MANDIR)/man8/cowbackup-ctl.8
	install -D -m 0644 build/man/dm-cowbackup.4 $(DESTDIR)$(MANDIR)/man4/dm-cowbackup.4
	install -D -m 0644 completion/cowbackup-ctl.bash $(DESTDIR)$(BASHCOMPDIR)/cowbackup-ctl
	install -D -m 0644 udev/60-cowbackup.rules $(DESTDIR)$(UDEVRULESDIR)/60-cowbackup.rules
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|/usr/sbin/cowbackup-ctl|$(SBINDIR)/cowbackup-ctl|' \
		systemd/cowbackup-track.service >$(DESTDIR)$(SYSTEMDUNITDIR)/cowbackup-track.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/cowbackup-track.service
	@if [ -z "$(DESTDIR)" ] && command -v udevadm >/dev/null; then udevadm control --reload || true; fi

# The module's source for DKMS: dkms.conf, kernel/ and include/uapi/ in
# /usr/src/dm-cowbackup-VERSION; then 'dkms install dm-cowbackup/VERSION'.
dkms-src:
	install -d $(DESTDIR)$(DKMSSRCDIR)/kernel $(DESTDIR)$(DKMSSRCDIR)/include/uapi
	install -m 0644 dkms.conf $(DESTDIR)$(DKMSSRCDIR)/
	install -m 0644 kernel/Kbuild $(filter-out %.mod.c,$(wildcard kernel/*.c)) \
		$(wildcard kernel/*.h) $(DESTDIR)$(DKMSSRCDIR)/kernel/
	install -m 0644 include/uapi/*.h $(DESTDIR)$(DKMSSRCDIR)/include/uapi/

uninstall: uninstall-module uninstall-ctl

uninstall-module:
	rm -f $(DESTDIR)/lib/modules/$(KVER)/$(INSTALL_MOD_DIR)/dm-cowbackup.ko
	@if [ -z "$(DESTDIR)" ]; then echo "  DEPMOD  $(KVER)"; depmod -a $(KVER); fi

uninstall-ctl:
	rm -f $(DESTDIR)$(SBINDIR)/cowbackup-ctl \
		$(DESTDIR)$(MANDIR)/man8/cowbackup-ctl.8 \
		$(DESTDIR)$(MANDIR)/man4/dm-cowbackup.4 \
		$(DESTDIR)$(BASHCOMPDIR)/cowbackup-ctl \
		$(DESTDIR)$(UDEVRULESDIR)/60-cowbackup.rules \
		$(DESTDIR)$(SYSTEMDUNITDIR)/cowbackup-track.service
	@if [ -z "$(DESTDIR)" ] && command -v udevadm >/dev/null; then udevadm control --reload || true; fi

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR)/kernel clean
	$(MAKE) -C userspace clean
	-$(MAKE) -C tests/unit clean
	-$(MAKE) -C tests/fuzz clean
	rm -rf build
