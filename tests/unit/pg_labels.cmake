# Read by ctest after the discovered tests' lists (tests/CMakeLists.txt): the PostgreSQL
# tests carry "pg" beside "unit" or "concurrency".
foreach(t IN LISTS rm_pg_unit_tests)
  set_tests_properties("${t}" PROPERTIES LABELS "unit;pg")
endforeach()
foreach(t IN LISTS rm_pg_concurrency_tests)
  set_tests_properties("${t}" PROPERTIES LABELS "concurrency;pg")
endforeach()
