"""Cinder v3 volumes and snapshots: list, create, show, update, delete, their actions
(os-extend, os-reset_status, os-set_bootable) and metadata. Views parse, authorize, call
one service, present; another project's rows answer 404 (the selectors never see them).
Which project a row belongs to is the token's, whatever project id the URL names."""

from rest_framework import status
from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.api.pagination import after, next_link, paginate
from cloud.api.parsing import uuid_or_none
from cloud.api.schema import body
from cloud.api.views import base_url
from cloud.volumes import selectors, services
from cloud.volumes.api import body_schemas as schemas
from cloud.volumes.api import presenters
from cloud.volumes.api.parsing import boolean
from cloud.volumes.api.versions import VolumeView
from cloud.volumes.models import VolumeBackend

SORT_KEYS = {"created_at", "updated_at", "name", "size", "status", "id"}


def _all_projects(view: VolumeView) -> bool:
    raw = view.request.GET.get("all_tenants") or view.request.GET.get("all_projects")
    if raw is None:
        return False
    wanted = boolean(raw, "all_tenants")
    if wanted:
        view.authorize("volume_extension:all_tenants")
    return wanted


def _sorted(rows, request):
    """Cinder's sort=key[:dir] (also sort_key and sort_dir); created_at desc by default."""
    raw = request.GET.get("sort") or request.GET.get("sort_key") or "created_at"
    key, _, direction = raw.partition(":")
    direction = direction or request.GET.get("sort_dir", "desc")
    if key not in SORT_KEYS or direction not in ("asc", "desc"):
        raise BadRequest(f"Invalid input received: Invalid sort key or direction {raw!r}.")
    descending = direction == "desc"
    prefix = "-" if descending else ""
    return rows.order_by(f"{prefix}{key}", f"{prefix}pk"), key, descending


def _page(view: VolumeView, rows, marker_of):
    """One page of rows after ?marker= (404 for an unknown marker), and the next link."""
    request = view.request
    rows, key, descending = _sorted(rows, request)
    marker_id = request.GET.get("marker")
    if marker_id:
        marker = marker_of(marker_id)
        if marker is None:
            raise NotFound(f"Marker {marker_id} could not be found.")
        rows = after(rows, marker, key, descending)
    found, more = paginate(rows, request.GET)
    return found, (next_link(request, str(found[-1].pk)) if more and found else None)


def _named(given: dict, field: str) -> str | None:
    """A body's name or description, or their v1 spellings display_name and
    display_description, as Cinder takes both."""
    return given.get(field) if field in given else given.get(f"display_{field}")


def _hosts() -> dict[str, str]:
    return dict(VolumeBackend.objects.values_list("name", "host"))


class _Volumes(VolumeView):
    def present(self, row, hosts: dict[str, str] | None = None) -> dict:
        return presenters.volume(
            row,
            version=self.version,
            admin=self.context.is_admin,
            base=base_url(self.request),
            hosts=hosts if hosts is not None else (_hosts() if self.context.is_admin else {}),
        )

    def listing(self, detail: bool) -> Response:
        self.authorize("volume:get_all", {"project_id": self.context.project_id})
        rows = selectors.volumes_visible(context=self.context, all_projects=_all_projects(self))
        for param in ("name", "status"):
            if param in self.request.GET:
                rows = rows.filter(**{param: self.request.GET[param]})
        if "project_id" in self.request.GET and self.context.is_admin:
            rows = rows.filter(project_id=self.request.GET["project_id"])
        found, links = _page(
            self, rows, lambda pk: selectors.volume_get(context=self.context, volume_id=pk)
        )
        hosts = _hosts() if self.context.is_admin else {}
        base = base_url(self.request)
        body = {
            "volumes": [
                self.present(row, hosts) if detail else presenters.volume_summary(row, base=base)
                for row in found
            ]
        }
        if links:
            body["volumes_links"] = links
        return Response(body)

    def found(self, volume_id: str):
        row = selectors.volume_get(context=self.context, volume_id=volume_id)
        if row is None:
            raise NotFound(f"Volume {volume_id} could not be found.")
        return row


class VolumeListView(_Volumes):
    def get(self, request, project_id: str):
        return self.listing(detail=False)

    @body(schemas.VOLUME_CREATE)
    def post(self, request, project_id: str):
        self.authorize("volume:create", {"project_id": self.context.project_id})
        given = request.data["volume"]
        unknown = sorted(set(given) - schemas.CREATE_FIELDS)
        if unknown and self.version.at_least("3.53"):
            raise BadRequest(
                "Invalid input for field/attribute volume. Additional properties are not "
                f"allowed ({', '.join(map(repr, unknown))} unexpected)."
            )
        for unsupported in ("source_volid", "backup_id", "consistencygroup_id", "group_id"):
            if given.get(unsupported):
                raise BadRequest(f"Invalid input received: {unsupported} is not supported here.")
        multiattach = given.get("multiattach")
        row = services.volume_create(
            context=self.context,
            size=given.get("size"),
            name=_named(given, "name") or "",
            description=_named(given, "description") or "",
            volume_type=given.get("volume_type"),
            image_id=given.get("imageRef") or given.get("image_id"),
            snapshot_id=given.get("snapshot_id"),
            metadata=given.get("metadata") or {},
            availability_zone=given.get("availability_zone"),
            multiattach=boolean(multiattach, "multiattach") if multiattach is not None else False,
        )
        row = self.found(str(row.pk))
        return Response({"volume": self.present(row)}, status=status.HTTP_202_ACCEPTED)


class VolumeDetailListView(_Volumes):
    def get(self, request, project_id: str):
        return self.listing(detail=True)


class VolumeItemView(_Volumes):
    def get(self, request, project_id: str, volume_id: str):
        row = self.found(volume_id)
        self.authorize("volume:get", {"project_id": row.project_id})
        return Response({"volume": self.present(row)})

    @body(schemas.VOLUME_UPDATE)
    def put(self, request, project_id: str, volume_id: str):
        row = self.found(volume_id)
        self.authorize("volume:update", {"project_id": row.project_id})
        given = request.data["volume"]
        if not given and self.version.at_least("3.53"):
            raise BadRequest(
                "Invalid input for field/attribute volume. Value: {}. "
                "{} is not valid under any of the given schemas"
            )
        row = services.volume_update(
            context=self.context,
            volume_id=volume_id,
            name=_named(given, "name"),
            description=_named(given, "description"),
            metadata=given.get("metadata"),
        )
        return Response({"volume": self.present(self.found(str(row.pk)))})

    def delete(self, request, project_id: str, volume_id: str):
        row = self.found(volume_id)
        self.authorize("volume:delete", {"project_id": row.project_id})
        services.volume_delete(context=self.context, volume_id=volume_id)
        return Response(status=status.HTTP_202_ACCEPTED)


class VolumeActionView(_Volumes):
    @body(schemas.VOLUME_ACTION)
    def post(self, request, project_id: str, volume_id: str):
        row = self.found(volume_id)
        ((name, args),) = request.data.items()
        target = {"project_id": row.project_id}
        if name == "os-extend":
            self.authorize("volume:extend", target)
            services.volume_extend(
                context=self.context, volume_id=volume_id, new_size=args["new_size"]
            )
        elif name == "os-reset_status":
            self.authorize("volume_extension:volume_admin_actions:reset_status", target)
            services.volume_reset_status(
                context=self.context,
                volume_id=volume_id,
                status=args.get("status"),
                attach_status=args.get("attach_status"),
            )
        elif name == "os-set_bootable":
            self.authorize("volume:update", target)
            services.volume_set_bootable(
                context=self.context,
                volume_id=volume_id,
                bootable=boolean(args["bootable"], "bootable"),
            )
        else:
            raise BadRequest("Invalid input received: read-only volumes are not supported.")
        return Response(status=status.HTTP_202_ACCEPTED)


class VolumeMetadataView(_Volumes):
    def get(self, request, project_id: str, volume_id: str):
        return Response({"metadata": self.found(volume_id).metadata})

    def _merge(self, request, volume_id: str, replace: bool) -> Response:
        row = self.found(volume_id)
        self.authorize("volume:update", {"project_id": row.project_id})
        found = services.volume_metadata_merge(
            context=self.context,
            volume_id=volume_id,
            metadata=request.data["metadata"],
            replace=replace,
        )
        return Response({"metadata": found})

    @body(schemas.METADATA_BODY)
    def post(self, request, project_id: str, volume_id: str):
        return self._merge(request, volume_id, replace=False)

    @body(schemas.METADATA_BODY)
    def put(self, request, project_id: str, volume_id: str):
        return self._merge(request, volume_id, replace=True)


class VolumeMetadataItemView(_Volumes):
    def get(self, request, project_id: str, volume_id: str, key: str):
        found = self.found(volume_id).metadata
        if key not in found:
            raise NotFound(f"Metadata key: {key} could not be found.")
        return Response({"meta": {key: found[key]}})

    @body(schemas.META_ITEM)
    def put(self, request, project_id: str, volume_id: str, key: str):
        row = self.found(volume_id)
        self.authorize("volume:update", {"project_id": row.project_id})
        meta = request.data["meta"]
        if list(meta) != [key]:
            raise BadRequest(
                "Malformed request body: the body must hold exactly the key of the URL."
            )
        services.volume_metadata_merge(context=self.context, volume_id=volume_id, metadata=meta)
        return Response({"meta": meta})

    def delete(self, request, project_id: str, volume_id: str, key: str):
        row = self.found(volume_id)
        self.authorize("volume:update", {"project_id": row.project_id})
        services.volume_metadata_delete(context=self.context, volume_id=volume_id, key=key)
        return Response(status=status.HTTP_200_OK)


# -- snapshots ---------------------------------------------------------------------------


class _Snapshots(VolumeView):
    def found(self, snapshot_id: str):
        row = selectors.snapshot_get(context=self.context, snapshot_id=snapshot_id)
        if row is None:
            raise NotFound(f"Snapshot {snapshot_id} could not be found.")
        return row

    def present(self, row) -> dict:
        return presenters.snapshot(row, version=self.version)

    def listing(self, detail: bool) -> Response:
        self.authorize("volume:get_all", {"project_id": self.context.project_id})
        rows = selectors.snapshots_visible(context=self.context, all_projects=_all_projects(self))
        for param in ("name", "status", "volume_id"):
            if param in self.request.GET:
                value = self.request.GET[param]
                if param == "volume_id" and uuid_or_none(value) is None:
                    rows = rows.none()
                    continue
                rows = rows.filter(**{param: value})
        found, links = _page(
            self, rows, lambda pk: selectors.snapshot_get(context=self.context, snapshot_id=pk)
        )
        items = [self.present(row) for row in found]
        if not detail:
            items = [
                {k: item[k] for k in ("id", "name", "status", "volume_id", "size")}
                for item in items
            ]
        body = {"snapshots": items}
        if links:
            body["snapshots_links"] = links
        return Response(body)


class SnapshotListView(_Snapshots):
    def get(self, request, project_id: str):
        return self.listing(detail=False)

    @body(schemas.SNAPSHOT_CREATE)
    def post(self, request, project_id: str):
        self.authorize("volume:create_snapshot", {"project_id": self.context.project_id})
        given = request.data["snapshot"]
        force = given.get("force")
        row = services.snapshot_create(
            context=self.context,
            volume_id=given["volume_id"],
            name=_named(given, "name") or "",
            description=_named(given, "description") or "",
            force=boolean(force, "force") if force is not None else False,
            metadata=given.get("metadata") or {},
        )
        return Response({"snapshot": self.present(self.found(str(row.pk)))}, status=202)


class SnapshotDetailListView(_Snapshots):
    def get(self, request, project_id: str):
        return self.listing(detail=True)


class SnapshotView(_Snapshots):
    def get(self, request, project_id: str, snapshot_id: str):
        row = self.found(snapshot_id)
        self.authorize("volume:get_snapshot", {"project_id": row.project_id})
        return Response({"snapshot": self.present(row)})

    @body(schemas.SNAPSHOT_UPDATE)
    def put(self, request, project_id: str, snapshot_id: str):
        row = self.found(snapshot_id)
        self.authorize("volume:update", {"project_id": row.project_id})
        given = request.data["snapshot"]
        row = services.snapshot_update(
            context=self.context,
            snapshot_id=snapshot_id,
            name=_named(given, "name"),
            description=_named(given, "description"),
        )
        return Response({"snapshot": self.present(row)})

    def delete(self, request, project_id: str, snapshot_id: str):
        row = self.found(snapshot_id)
        self.authorize("volume:delete_snapshot", {"project_id": row.project_id})
        services.snapshot_delete(context=self.context, snapshot_id=snapshot_id)
        return Response(status=status.HTTP_202_ACCEPTED)


class SnapshotActionView(_Snapshots):
    @body(schemas.SNAPSHOT_ACTION)
    def post(self, request, project_id: str, snapshot_id: str):
        row = self.found(snapshot_id)
        args = request.data["os-reset_status"]
        self.authorize(
            "volume_extension:snapshot_admin_actions:reset_status", {"project_id": row.project_id}
        )
        services.snapshot_reset_status(
            context=self.context, snapshot_id=snapshot_id, status=args["status"]
        )
        return Response(status=status.HTTP_202_ACCEPTED)
