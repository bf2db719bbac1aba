"""A django-allauth adapter for jidconnect: the Django username is the JID itself.

allauth would take the username from `preferred_username`, the JID's local part, which
repeats across XMPP servers (alice@a.example and alice@b.example).
"""
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter


class JidAdapter(DefaultSocialAccountAdapter):
    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        user.username = sociallogin.account.uid  # the `sub` claim: the bare JID
        return user
