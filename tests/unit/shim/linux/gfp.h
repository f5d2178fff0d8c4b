/* SPDX-License-Identifier: GPL-2.0 */
/* Host shim: allocation flags (only __GFP_ZERO changes behaviour here). */
#ifndef SHIM_LINUX_GFP_H
#define SHIM_LINUX_GFP_H

#include <linux/types.h>

#define __GFP_ZERO	0x100u
#define __GFP_NOWARN	0x200u
#define __GFP_NORETRY	0x400u
#define __GFP_IO	0x1u
#define __GFP_FS	0x2u
#define __GFP_RECLAIM	0x4u
#define GFP_ATOMIC	0x10u
#define GFP_NOWAIT	0x20u
#define GFP_NOIO	(__GFP_RECLAIM)
#define GFP_NOFS	(__GFP_RECLAIM | __GFP_IO)
#define GFP_KERNEL	(__GFP_RECLAIM | __GFP_IO | __GFP_FS)

#endif
