from django.urls import path

from cloud.images.api import views

IMAGE = "image/v2/images/<str:image_id>"

urlpatterns = [
    path("image", views.ImageVersionsView.as_view()),
    path("image/", views.ImageVersionsView.as_view()),
    path("image/v2/images", views.ImageListView.as_view(), name="image-list"),
    path(IMAGE, views.ImageView.as_view(), name="image-detail"),
    path(f"{IMAGE}/file", views.ImageFileView.as_view(), name="image-file"),
    path(f"{IMAGE}/actions/<str:action>", views.ImageActionView.as_view(), name="image-action"),
    path(f"{IMAGE}/tags/<str:tag>", views.ImageTagView.as_view(), name="image-tag"),
    path(f"{IMAGE}/members", views.ImageMembersView.as_view(), name="image-members"),
    path(f"{IMAGE}/members/<str:member_id>", views.ImageMemberView.as_view(), name="image-member"),
]
