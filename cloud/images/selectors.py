"""Image reads, limited to what the caller may see (public, or owned by their project)."""

import uuid as uuidlib

from django.db.models import Q, QuerySet

from cloud.identity.context import RequestContext
from cloud.images.models import Image, ImageStatus, Visibility


def images_visible(*, context: RequestContext) -> QuerySet:
    qs = Image.objects.exclude(status=ImageStatus.DELETED)
    if context.is_admin:
        return qs
    return qs.filter(
        Q(visibility__in=[Visibility.PUBLIC, Visibility.COMMUNITY]) | Q(owner=context.project_id)
    )


def image_get(*, image_id: str, context: RequestContext) -> Image | None:
    try:
        pk = uuidlib.UUID(image_id)
    except ValueError:
        return None
    return images_visible(context=context).filter(pk=pk).first()
