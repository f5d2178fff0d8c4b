# libFuzzer targets for the image parsers (issue 7): fuzz_qcow2, fuzz_vmdk.
#
# Included by tests/fuzz/Makefile, which includes every tests/fuzz/*.mk.
# It hooks in as prerequisites only, so it never takes over the default
# goal or another file's recipes:
#
#   all:   image-fuzzers     build both (clang, ASan + UBSan + libFuzzer)
#   run:   run-image         each for $(FUZZ_SECONDS) s on seeds from
#                            tests/images/fuzz-seeds (qemu-img images)
#   clean: clean-image
#
# Standalone: make -C tests/fuzz -f image.mk run-image FUZZ_SECONDS=600
# Crashes are saved as build/fuzz/crash-{qcow2,vmdk}-*; a crash fails run.

IMAGE_FUZZ_PREV_GOAL := $(.DEFAULT_GOAL)
IMAGE_FUZZ_TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/../..)
FUZZ_BUILD ?= $(IMAGE_FUZZ_TOP)/build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang

IMAGE_FUZZ_SRCS := $(addprefix $(IMAGE_FUZZ_TOP)/userspace/,util.c \
	image/reader.c image/regions.c image/image.c image/qcow2.c \
	image/vmdk.c image/vmdk_desc.c image/raw.c)
IMAGE_FUZZ_HDRS := $(wildcard $(IMAGE_FUZZ_TOP)/userspace/image/*.h) \
	$(IMAGE_FUZZ_TOP)/userspace/util.h
IMAGE_FUZZ_CFLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I$(IMAGE_FUZZ_TOP)/include -I$(IMAGE_FUZZ_TOP)/userspace \
	$(shell pkg-config --cflags blkid)
IMAGE_FUZZ_LIBS := $(shell pkg-config --libs blkid)
IMAGE_FUZZ_BINS := $(FUZZ_BUILD)/fuzz_qcow2 $(FUZZ_BUILD)/fuzz_vmdk
IMAGE_FUZZ_SEEDS := $(FUZZ_BUILD)/image-seeds

# -close_fd_mask=2: the parsers print one error line per bad input; the
# sanitizer reports still reach the terminal.
IMAGE_FUZZ_FLAGS = -max_total_time=$(FUZZ_SECONDS) -close_fd_mask=2 \
	-max_len=131072 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

.PHONY: all run clean image-fuzzers run-image clean-image \
	run-fuzz_qcow2 run-fuzz_vmdk

all: image-fuzzers
run: run-image
clean: clean-image

image-fuzzers: $(IMAGE_FUZZ_BINS)

$(IMAGE_FUZZ_BINS): $(FUZZ_BUILD)/fuzz_%: \
		$(IMAGE_FUZZ_TOP)/tests/fuzz/fuzz_%.c $(IMAGE_FUZZ_SRCS) \
		$(IMAGE_FUZZ_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(IMAGE_FUZZ_CFLAGS) -o $@ $< $(IMAGE_FUZZ_SRCS) \
		$(IMAGE_FUZZ_LIBS)

$(IMAGE_FUZZ_SEEDS)/.done: $(IMAGE_FUZZ_TOP)/tests/images/fuzz-seeds
	$(IMAGE_FUZZ_TOP)/tests/images/fuzz-seeds $(IMAGE_FUZZ_SEEDS)
	@touch $@

run-image: run-fuzz_qcow2 run-fuzz_vmdk

run-fuzz_qcow2 run-fuzz_vmdk: run-fuzz_%: $(FUZZ_BUILD)/fuzz_% \
		$(IMAGE_FUZZ_SEEDS)/.done
	@mkdir -p $(FUZZ_BUILD)/corpus/$*
	$(FUZZ_BUILD)/fuzz_$* $(IMAGE_FUZZ_FLAGS) \
		-dict=$(IMAGE_FUZZ_TOP)/tests/images/$*.dict \
		-artifact_prefix=$(FUZZ_BUILD)/crash-$*- \
		$(FUZZ_BUILD)/corpus/$* $(IMAGE_FUZZ_SEEDS)/$*

clean-image:
	rm -rf $(IMAGE_FUZZ_BINS) $(IMAGE_FUZZ_SEEDS) $(FUZZ_BUILD)/corpus/qcow2 \
		$(FUZZ_BUILD)/corpus/vmdk

.DEFAULT_GOAL := $(IMAGE_FUZZ_PREV_GOAL)
