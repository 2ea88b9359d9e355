dnl mod_portone_verify inside httpd's source tree: ./buildconf; ./configure --enable-portone-verify
APACHE_MODPATH_INIT(portone_verify)

portone_verify_objs="mod_portone_verify.lo pv_client.lo pv_decide.lo pv_decimal.lo pv_error.lo pv_json.lo pv_portone.lo pv_request.lo pv_sqlparam.lo pv_stats.lo pv_store.lo"

APACHE_MODULE(portone_verify, PortOne payment verification (needs mod_dbd, libcurl, libsqlite3 and libpq), $portone_verify_objs, , no, [
  AC_CHECK_HEADERS([curl/curl.h sqlite3.h], [], [enable_portone_verify=no])
  APR_ADDTO(CPPFLAGS, [-I`pg_config --includedir 2>/dev/null || echo /usr/include/postgresql`])
  AC_CHECK_HEADERS([libpq-fe.h], [], [enable_portone_verify=no])
  AC_CHECK_LIB(curl, curl_easy_init, [], [enable_portone_verify=no])
  if test "$enable_portone_verify" != "no"; then
    APR_ADDTO(MOD_PORTONE_VERIFY_LDADD, [-lcurl -lsqlite3 -lpq])
  fi
])

APACHE_MODPATH_FINISH
