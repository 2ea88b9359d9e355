/* The module's version, in this one place. The .so reads it (User-Agent,
 * the start-up line in the error log, server-status); the Makefile reads
 * the line below with sed (`make version`), and debian/rules and
 * tests/test_package.py check that debian/changelog names the same. */
#ifndef PV_VERSION_H
#define PV_VERSION_H

#define PV_VERSION "0.9.0"

/* what the module sends as User-Agent to PortOne */
#define PV_USER_AGENT "mod_portone_verify/" PV_VERSION

#endif
