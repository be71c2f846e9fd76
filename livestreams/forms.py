from django import forms

from .models import Stream


class GoLiveForm(forms.ModelForm):
    hls_url = forms.URLField(
        label="HLS playback URL (optional)",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="From your streaming server, e.g. https://…/index.m3u8. Leave empty to go live without video.",
    )

    class Meta:
        model = Stream
        fields = ["title", "hls_url", "goal_coins", "cover"]
        labels = {  # (hls_url is declared above, with its label and help)
            "goal_coins": "Coin goal (optional)",
            "cover": "Cover picture (optional)",
        }
        help_texts = {
            "goal_coins": "Shown to viewers as a progress bar.",
        }
        widgets = {
            "title": forms.TextInput(attrs={"placeholder": "What's happening?", "maxlength": 100})
        }

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError("Give your stream a title.")
        return title

    def clean_hls_url(self):
        url = self.cleaned_data["hls_url"]
        if url and not url.startswith("https://"):
            raise forms.ValidationError("Use an https:// address so browsers will play it.")
        return url
