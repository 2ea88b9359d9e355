# Building inside httpd's source tree (modules/portone_verify/) or with an
# apxs -g Makefile: the sources are listed once, in sources.mk.
include $(builddir)/sources.mk

# httpd's rules compile a source into the current directory: the objects of
# src/ go beside their sources
src/%.slo: src/%.c
	$(LIBTOOL) --mode=compile $(COMPILE) $(PV_INCLUDES) -prefer-pic -c $< -o $(@:.slo=.lo) && touch $@

mod_portone_verify.la: $(PV_SRCS:.c=.slo)
	$(SH_LINK) -rpath $(libexecdir) -module -avoid-version -export-symbols-regex '^portone_verify_module$$' $(PV_SRCS:.c=.lo) $(PV_LIBS)
DISTCLEAN_TARGETS = modules.mk
static =
shared =  mod_portone_verify.la
