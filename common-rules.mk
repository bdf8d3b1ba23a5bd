# Rules included by every Makefile.am.
NULL =
CLEANFILES = *~

# The include paths a layer may use are listed in its own *_CPPFLAGS.
