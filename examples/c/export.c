/* export.c: list what a camera recorded, export the last seconds as an evidence clip with
 * its manifest, and verify the clip.
 *
 *   cc export.c $(pkg-config --cflags --libs camwire) -o export
 *   ./export ROOT CAMERA OUT.mp4 [SECONDS]     (default: the whole latest range)
 */
#include <camwire.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, camwire_result rc) {
    fprintf(stderr, "%s: %s (%s)\n", what, camwire_result_str(rc), camwire_last_error_message());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s ROOT CAMERA OUT.mp4 [SECONDS]\n", argv[0]);
        return 2;
    }
    camwire_range_list *ranges = NULL;
    camwire_result rc =
        camwire_list_ranges(argv[1], argv[2], CAMWIRE_TIME_MIN, CAMWIRE_TIME_MAX, &ranges);
    if (rc != CAMWIRE_OK) return fail("ranges", rc);
    size_t n = camwire_range_list_len(ranges);
    camwire_time_range r;
    camwire_struct_init(&r, sizeof r);
    for (size_t i = 0; i < n; i++) {
        camwire_range_list_get2(ranges, i, &r);
        printf("recorded %.3f .. %.3f (%.1f s)\n", r.start_us / 1e6, r.end_us / 1e6,
               (r.end_us - r.start_us) / 1e6);
    }
    for (size_t i = 0; i < camwire_range_list_gap_count(ranges); i++) {
        camwire_gap g;
        camwire_struct_init(&g, sizeof g);
        camwire_range_list_gap2(ranges, i, &g);
        printf("gap %.1f s: %s\n", (g.end_us - g.start_us) / 1e6, g.reason ? g.reason : "?");
    }
    camwire_range_list_free(ranges);
    if (n == 0) return fail("ranges", CAMWIRE_E_NOT_FOUND);

    int64_t start = r.start_us, end = r.end_us; /* the latest range */
    if (argc > 4 && end - (int64_t)atoi(argv[4]) * 1000000 > start)
        start = end - (int64_t)atoi(argv[4]) * 1000000;
    camwire_export_result *res = NULL;
    rc = camwire_export(argv[1], argv[2], start, end, argv[3], CAMWIRE_EXPORT_PROGRESSIVE, &res);
    if (rc != CAMWIRE_OK) return fail("export", rc);
    camwire_export_view ev;
    camwire_struct_init(&ev, sizeof ev);
    camwire_export_result_get2(res, &ev);
    printf("exported %llu frames (%.1f s, %zu gap(s)) to %s\nmanifest %s\n",
           (unsigned long long)ev.frames, (ev.actual_end_us - ev.actual_start_us) / 1e6,
           ev.gap_count, ev.output, ev.manifest_path);
    camwire_export_result_free(res);

    camwire_verify_report *report = NULL;
    if ((rc = camwire_verify(argv[3], NULL, &report)) != CAMWIRE_OK) return fail("verify", rc);
    camwire_verify_view vv;
    camwire_struct_init(&vv, sizeof vv);
    camwire_verify_report_get2(report, &vv);
    printf("verify: %s (%zu source file(s), %zu missing)\n%s", vv.ok ? "OK" : "FAILED",
           vv.sources, vv.missing_sources, vv.problems);
    int status = vv.ok ? 0 : 1;
    camwire_verify_report_free(report);
    return status;
}
