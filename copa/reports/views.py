from __future__ import annotations

import copy

from flask import url_for
from flask.views import MethodView

from copa.reports import photos, schemas, service, videos
from copa.web.access import Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.idempotency import idempotent
from copa.web.pagination import PageQuery, page_of
from copa.web.ratelimit import limit_per_caller
from copa.web.responses import private_file, private_image
from copa.web.uploads import body_limit

blp = Blueprint(
    "reports", __name__, url_prefix="/v1/reports", description="Residents' non-emergency reports."
)


# Submitting a report (POST /v1/reports) is copa.submissions.views', above routing.
@blp.route("")
class Reports(MethodView):
    @requires(Role.RESIDENT)
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_of(schemas.ReportSummaryOut))
    def get(self, query):
        """The resident's own reports, newest first."""
        return service.own_reports(current_principal(), query["page"], query["page_size"])


@blp.route("/<uuid:report_id>")
class Report(MethodView):
    @requires(Role.RESIDENT)
    @blp.response(200, schemas.ReportOut)
    def get(self, report_id):
        """One of the resident's own reports, with its photos and public timeline."""
        return service.own_report(current_principal(), report_id)


@blp.route("/<uuid:report_id>/photos")
class ReportPhotos(MethodView):
    @requires(Role.RESIDENT)
    @idempotent
    @limit_per_caller("RATELIMIT_PHOTOS")
    @blp.arguments(schemas.PhotoUploadIn, location="files")
    @blp.response(201, schemas.PhotoOut)
    def post(self, files, report_id):
        """Add a photo to the resident's own report (JPEG, PNG or HEIC, at most 5 per report).

        The photo is re-encoded from its pixels, upright, with no EXIF, GPS, comment, XMP, ICC
        profile or (HEIC) thumbnail and auxiliary image; a HEIC photo is stored as JPEG.
        """
        photo = photos.add_photo(current_principal(), report_id, files["photo"])
        return (
            photo,
            201,
            {"Location": url_for("reports.ReportPhoto", report_id=report_id, photo_id=photo.id)},
        )


@blp.route("/<uuid:report_id>/photos/<uuid:photo_id>")
class ReportPhoto(MethodView):
    @requires(Role.RESIDENT)
    @blp.doc(responses=copy.deepcopy(schemas.PHOTO_BYTES_RESPONSES))
    def get(self, report_id, photo_id):
        """The stored (re-encoded) photo of the resident's own report."""
        photo = photos.own_photo(current_principal(), report_id, photo_id)
        return private_image(photo.data, photo.content_type)


@blp.route("/<uuid:report_id>/videos")
class ReportVideos(MethodView):
    @requires(Role.RESIDENT)
    @body_limit(videos.upload_allowance)
    @idempotent
    @limit_per_caller("RATELIMIT_PHOTOS")
    @blp.arguments(schemas.VideoUploadIn, location="files")
    @blp.response(202, schemas.VideoOut)
    def post(self, files, report_id):
        """Add a video to the resident's own report (MP4, MOV or 3GP; at most 2 per report).

        Accepted as `processing`: the report shows it so until it has been re-encoded (H.264
        MP4, with no location, creation time, make, model or any other metadata) and has a
        poster, then `ready` with `url` and `poster_url`, or `failed` with a `failure_reason`.
        Too large (413), too long or not a readable MP4/MOV/3GP (422) is refused here, with
        the same `reason` word.
        """
        video = videos.add_video(current_principal(), report_id, files["video"])
        return (
            video,
            202,
            {"Location": url_for("reports.ReportVideo", report_id=report_id, video_id=video.id)},
        )


@blp.route("/<uuid:report_id>/videos/<uuid:video_id>")
class ReportVideo(MethodView):
    @requires(Role.RESIDENT)
    @blp.doc(responses=copy.deepcopy(schemas.VIDEO_BYTES_RESPONSES))
    def get(self, report_id, video_id):
        """The re-encoded video of the resident's own report (409 while processing)."""
        found = videos.own_video(current_principal(), report_id, video_id)
        return private_file(found.source, found.content_type)


@blp.route("/<uuid:report_id>/videos/<uuid:video_id>/poster")
class ReportVideoPoster(MethodView):
    @requires(Role.RESIDENT)
    @blp.doc(responses=copy.deepcopy(schemas.POSTER_BYTES_RESPONSES))
    def get(self, report_id, video_id):
        """The poster (first picture) of a video of the resident's own report."""
        found = videos.own_video(current_principal(), report_id, video_id, poster=True)
        return private_file(found.source, found.content_type)
