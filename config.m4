dnl mod_portone_verify inside httpd's source tree: ./buildconf; ./configure --enable-portone-verify
APACHE_MODPATH_INIT(portone_verify)

dnl the sources are listed once, in sources.mk
portone_verify_objs=`sed -n 's|^ *\(@<:@a-z0-9_/@:>@*\)\.c.*|\1.lo|p' $srcdir/modules/portone_verify/sources.mk | tr '\n' ' '`

dnl PV_CHECK_PKG(pkg-config name, minimum version, Debian package, why)
dnl stops configure, naming the library, the version found and the package
dnl that brings it, when the library is missing or older than the minimum
dnl (as httpd's own modules do, only a warning and the module left out when
dnl it was not asked for by name: --enable-mods-shared=reallyall).
dnl The same list as PV_REQUIRES in the Makefile.
AC_DEFUN([PV_LIB_FAILS], [
  case "$enable_portone_verify" in
    most|all|reallyall) AC_MSG_WARN([$1: mod_portone_verify left out]); enable_portone_verify=no ;;
    *) AC_MSG_ERROR([$1, or configure without --enable-portone-verify]) ;;
  esac
])
AC_DEFUN([PV_CHECK_PKG], [
  AC_MSG_CHECKING([for $1 >= $2 (mod_portone_verify: $4)])
  pv_version=`$PV_PKGCONFIG --modversion $1 2>/dev/null`
  if test "$enable_portone_verify" = "no"; then
    AC_MSG_RESULT([not checked])
  elif test -z "$pv_version"; then
    AC_MSG_RESULT([no])
    PV_LIB_FAILS([mod_portone_verify needs $1 $2 or newer; pkg-config finds none (Debian: apt-get install $3)])
  elif ! $PV_PKGCONFIG --atleast-version=$2 $1; then
    AC_MSG_RESULT([no, $pv_version])
    PV_LIB_FAILS([mod_portone_verify needs $1 $2 or newer; this one is $pv_version (Debian: $3)])
  else
    AC_MSG_RESULT([$pv_version])
    APR_ADDTO(MOD_PORTONE_VERIFY_LDADD, [`$PV_PKGCONFIG --libs $1`])
  fi
])

APACHE_MODULE(portone_verify, PortOne payment verification (needs mod_dbd, libcurl, json-c, libcrypto, libsqlite3 and libpq), $portone_verify_objs, , no, [
  PV_PKGCONFIG="${PKGCONFIG:-pkg-config}"
  if ! $PV_PKGCONFIG --version >/dev/null 2>&1; then
    PV_LIB_FAILS([mod_portone_verify needs pkg-config to find its libraries (Debian: apt-get install pkg-config)])
  fi
  PV_CHECK_PKG([libcurl], [7.85], [libcurl4-openssl-dev], [CURLOPT_PROTOCOLS_STR])
  PV_CHECK_PKG([libpq], [14], [libpq-dev], [pipeline mode])
  PV_CHECK_PKG([sqlite3], [3.20], [libsqlite3-dev], [sqlite3_prepare_v3])
  PV_CHECK_PKG([json-c], [0.15], [libjson-c-dev], [json_tokener_get_parse_end])
  PV_CHECK_PKG([libcrypto], [1.1.1], [libssl-dev], [HMAC-SHA256])
  dnl libpq-fe.h is in /usr/include/postgresql on Debian
  if test "$enable_portone_verify" != "no"; then
    APR_ADDTO(CPPFLAGS, [`$PV_PKGCONFIG --cflags libpq`])
  fi
  APR_ADDTO(INCLUDES, [-I\$(top_srcdir)/modules/portone_verify/src -I\$(top_srcdir)/modules/portone_verify/src/core -I\$(top_srcdir)/modules/portone_verify/src/store])
])

APACHE_MODPATH_FINISH
