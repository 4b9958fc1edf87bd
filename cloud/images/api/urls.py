from django.urls import path

from cloud.images.api import views

urlpatterns = [
    path("image", views.ImageVersionsView.as_view()),
    path("image/", views.ImageVersionsView.as_view()),
    path("image/v2/images", views.ImageListView.as_view(), name="image-list"),
    path("image/v2/images/<str:image_id>", views.ImageView.as_view(), name="image-detail"),
]
