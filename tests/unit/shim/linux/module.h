/* SPDX-License-Identifier: GPL-2.0 */
/* Host shim: module metadata compiles to nothing. */
#ifndef SHIM_LINUX_MODULE_H
#define SHIM_LINUX_MODULE_H

#include_next <linux/module.h>
#include <linux/export.h>
#include <linux/kernel.h>

#define MODULE_LICENSE(x)
#define MODULE_AUTHOR(x)
#define MODULE_DESCRIPTION(x)
#define MODULE_VERSION(x)
#define MODULE_PARM_DESC(name, desc)
#define module_param(name, type, perm)
#define module_param_named(name, var, type, perm)
#define THIS_MODULE	((void *)0)

#endif
