dnl mod_portone_verify inside httpd's source tree: ./buildconf; ./configure --enable-portone-verify
APACHE_MODPATH_INIT(portone_verify)

dnl the sources are listed once, in sources.mk
portone_verify_objs=`sed -n 's|^ *\(@<:@a-z_/@:>@*\)\.c.*|\1.lo|p' $srcdir/modules/portone_verify/sources.mk | tr '\n' ' '`

APACHE_MODULE(portone_verify, PortOne payment verification (needs mod_dbd, libcurl, json-c, libcrypto, libsqlite3 and libpq), $portone_verify_objs, , no, [
  AC_CHECK_HEADERS([curl/curl.h json-c/json.h openssl/hmac.h sqlite3.h], [], [enable_portone_verify=no])
  APR_ADDTO(CPPFLAGS, [-I`pg_config --includedir 2>/dev/null || echo /usr/include/postgresql`])
  APR_ADDTO(INCLUDES, [-I\$(top_srcdir)/modules/portone_verify/src -I\$(top_srcdir)/modules/portone_verify/src/core -I\$(top_srcdir)/modules/portone_verify/src/store])
  AC_CHECK_HEADERS([libpq-fe.h], [], [enable_portone_verify=no])
  AC_CHECK_LIB(curl, curl_easy_init, [], [enable_portone_verify=no])
  AC_CHECK_LIB(json-c, json_tokener_new_ex, [], [enable_portone_verify=no])
  AC_CHECK_LIB(crypto, HMAC, [], [enable_portone_verify=no])
  if test "$enable_portone_verify" != "no"; then
    APR_ADDTO(MOD_PORTONE_VERIFY_LDADD, [-lcurl -ljson-c -lcrypto -lsqlite3 -lpq])
  fi
])

APACHE_MODPATH_FINISH
